"""The deployment manifests against the ragd they deploy (run by deploy_manifests_test.sh):
  - deploy/compose.yaml against the Compose specification (check-jsonschema's copy) and
    every deploy/k8s/*.yaml against Kubernetes' schemas (kubernetes-validate, strict: an
    unknown field fails), both offline;
  - every `ragd serve` flag in them is one `ragd serve --help` lists, every RAGD_* variable
    names a settings key ragd reads, and mounts and ports agree with the image's
    environment and ragd's defaults;
  - probe paths are GET routes ragd serves without a key; the HPA's metric is one ragd
    registers and really serves on /metrics;
  - the ConfigMap's ragd.yaml starts `ragd serve` (an unknown key would stop it);
  - deploy/nginx/ragd.conf: upstream = compose's replicas on ragd's port, body limit and
    keep-alive agree with ragd's, the retried-POST location matches exactly the routes that
    change nothing, and `nginx -t` accepts it.
Exit 77 (skipped) only when nginx or the fast model is missing, after every other check."""
import os
import re
import subprocess
import sys
import tempfile

try:
    import kubernetes_validate
    import yaml
except ImportError as e:
    sys.exit(f"FAIL: {e.name} is not in the test virtualenv: run scripts/setup (tests/requirements.txt)")
CHECK_JSONSCHEMA = os.path.join(os.path.dirname(sys.executable), "check-jsonschema")
if not os.access(CHECK_JSONSCHEMA, os.X_OK):
    sys.exit(f"FAIL: no {CHECK_JSONSCHEMA}: run scripts/setup (tests/requirements.txt)")

ROOT = os.path.abspath(sys.argv[2])
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import nginx_harness  # noqa: E402
import serve_harness  # noqa: E402

RAGD = os.path.abspath(sys.argv[1])
# Kubernetes versions validated against: an old one still supported by the major clouds'
# extended support, and the newest the validator knows.
K8S_VERSIONS = ["1.27.0", None]
# POST routes that change nothing a later request sees: nginx retries them on another
# replica even after sending them (non_idempotent). Every other POST must not be retried.
COMPUTE_POSTS = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/rag/query", "/v1/search",
                 "/v1/rerank", "/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/show",
                 "/tokenize", "/detokenize"}

failures, skipped = [], []


def check(cond, message):
    if not cond:
        failures.append(message)
        print(f"FAIL: {message}")
    return bool(cond)


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def size_bytes(text):
    m = re.fullmatch(r"(\d+)\s*(|KiB|MiB|GiB|k|m|g)", str(text).strip())
    mult = {"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(m.group(1)) * mult[m.group(2)]


# --- What ragd accepts and serves, from the binary and the sources. ---
help_text = subprocess.run([RAGD, "serve", "--help"], capture_output=True, text=True, check=True).stdout
FLAGS = set(re.findall(r"(?:^|[ ,])(--[a-z0-9-]+)", help_text, re.M))
check("--config" in FLAGS and "--port" in FLAGS, f"`ragd serve --help` lists no flags: {help_text[:300]}")
KEYS = set(re.findall(r'^\s*\{"([a-z_]+\.[a-z_]+)",', read("src/app/cmd_serve.cpp"), re.M))
check("server.api_keys" in KEYS, "no settings keys found in src/app/cmd_serve.cpp")
# RAGD_* variables ragd reads besides the settings keys, and the image entrypoint's.
OTHER_ENV = {"RAGD_MODEL_DIR", "RAGD_DATA_DIR", "RAGD_PULL", "RAGD_MODEL_SOURCE", "RAGD_MODEL_CATALOG"}
server_src = "".join(read(os.path.join("src", "server", f)) for f in sorted(os.listdir(os.path.join(ROOT, "src", "server")))
                     if f.endswith(".cpp"))
# A registration runs from `http.get("PATH"` to its `Scope::...` argument.
PUBLIC_GETS = {path for path, scope in re.findall(r'http\.get\("([^"]+)".*?Scope::(\w+)', server_src, re.S)
               if scope == "Public"}
POSTS = set(re.findall(r'http\.post\("([^"]+)"', server_src))
METRICS = set(re.findall(r'\.(?:gauge|counter|histogram)\(\s*"(ragd_[a-z0-9_]+)"', server_src))
check({"/health", "/ready"} <= PUBLIC_GETS, f"/health and /ready are not public GET routes: {sorted(PUBLIC_GETS)}")
check("ragd_http_requests_total" in METRICS, f"metric registrations not found: {sorted(METRICS)[:5]}")
defaults = yaml.safe_load(read("deploy/ragd.yaml"))
PORT = defaults["server"]["port"]
MAX_BODY = size_bytes(defaults["server"]["max_body_bytes"])
image_env = dict(re.findall(r"(RAGD_[A-Z_]+)=(\S+)", read("deploy/Dockerfile").split("ENV ", 1)[1].split("\nVOLUME")[0]))
check(int(image_env["RAGD_SERVER_PORT"]) == PORT, f"image port {image_env['RAGD_SERVER_PORT']} != ragd's {PORT}")
ENTRYPOINT_VERBS = set(re.findall(r"^\s*(\w+)\)", read("deploy/docker/entrypoint.sh"), re.M))


def check_serve_args(where, args):
    """`args` as given to the image's entrypoint: `serve` and flags ragd serve accepts."""
    if not check(args and args[0] == "serve", f"{where}: command {args} does not start with 'serve'"):
        return
    for a in args[1:]:
        if a.startswith("--"):
            check(a.split("=")[0] in FLAGS, f"{where}: `ragd serve` has no flag {a}")


def check_env(where, names):
    for name in names:
        key = name[len("RAGD_"):].lower().replace("_", ".", 1) if name.startswith("RAGD_") else None
        check(key in KEYS or name in OTHER_ENV, f"{where}: {name} is no setting ragd reads")


# --- deploy/compose.yaml ---
def validate_compose():
    r = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec",
                        os.path.join(ROOT, "deploy", "compose.yaml")], capture_output=True, text=True)
    check(r.returncode == 0, f"compose.yaml against the Compose specification:\n{r.stdout}{r.stderr}")
    compose = yaml.safe_load(read("deploy/compose.yaml"))
    services = compose["services"]
    replicas = sorted(n for n, s in services.items() if s.get("image") == "ragd:local")
    check(len(replicas) == 3, f"compose: 3 ragd replicas expected, found {replicas}")
    data_volumes = set()
    for name in replicas:
        s = services[name]
        check(s["build"]["dockerfile"] == "deploy/Dockerfile" and os.path.exists(
            os.path.join(ROOT, "deploy", s["build"]["context"], s["build"]["dockerfile"])), f"compose {name}: build")
        check_serve_args(f"compose {name}", s["command"])
        check_env(f"compose {name}", s.get("environment", {}))
        mounts = {v.split(":")[1]: v for v in s["volumes"]}
        check(image_env["RAGD_MODEL_DIR"] in mounts and mounts[image_env["RAGD_MODEL_DIR"]].endswith(":ro"),
              f"compose {name}: models not mounted read-only at {image_env['RAGD_MODEL_DIR']}: {s['volumes']}")
        check(image_env["RAGD_DATA_DIR"] in mounts, f"compose {name}: no data volume at {image_env['RAGD_DATA_DIR']}")
        data_volumes.add(mounts.get(image_env["RAGD_DATA_DIR"], "").split(":")[0])
        check(s["healthcheck"]["test"][1:] == ["ragd-entrypoint", "health"] and "health" in ENTRYPOINT_VERBS,
              f"compose {name}: healthcheck {s['healthcheck']['test']}")
    check(len(data_volumes) == 3, f"compose: the replicas share data volumes: {data_volumes}")
    for db in ("postgres", "redis"):
        check(db in services and "healthcheck" in services[db], f"compose: no {db} service with a healthcheck")

    nginx = services["nginx"]
    mount_src, mount_dst = nginx["volumes"][0].split(":")[:2]
    check(os.path.normpath(os.path.join(ROOT, "deploy", mount_src)) == os.path.join(ROOT, nginx_harness.CONF),
          f"compose nginx mounts {mount_src}, not {nginx_harness.CONF}")
    cmd = nginx["command"]
    check(cmd[cmd.index("-c") + 1] == mount_dst, f"compose nginx runs {cmd}, config mounted at {mount_dst}")
    check(set(nginx["depends_on"]) == set(replicas), f"compose nginx waits for {sorted(nginx['depends_on'])}")
    return replicas, nginx


# --- deploy/nginx/ragd.conf ---
def check_nginx_conf(replicas, nginx_service):
    conf = read(nginx_harness.CONF)
    upstream = re.search(r"upstream ragd \{(.*?)\n  \}", conf, re.S).group(1)
    servers = re.findall(r"^\s*server\s+(\S+)", upstream, re.M)
    check(servers == [f"{r}:{PORT}" for r in replicas], f"nginx upstream {servers} != compose's replicas on {PORT}")
    check(re.search(r"^\s*least_conn;", upstream, re.M) and re.search(r"^\s*zone\s", upstream, re.M),
          "nginx: least_conn with a shared zone")
    listen = int(re.search(r"^\s*listen\s+(\d+);", conf, re.M).group(1))
    published = [p.split(":")[-1] for p in nginx_service["ports"]]
    check(published == [str(listen)], f"compose publishes nginx's {published}, nginx listens on {listen}")
    limit = size_bytes(re.search(r"client_max_body_size\s+(\S+);", conf).group(1))
    check(limit == MAX_BODY, f"nginx client_max_body_size {limit} != ragd's server.max_body_bytes {MAX_BODY}")
    check(f"the limit is {MAX_BODY} bytes" in conf, "nginx's 413 message names another limit")
    ragd_idle = float(re.search(r'get_double\("server.keep_alive_timeout",\s*([\d.]+)',
                                read("src/app/cmd_serve.cpp")).group(1))
    ragd_max = int(re.search(r"keep_alive_max_requests\s*=\s*(\d+)", read("src/server/connection_server.h")).group(1))
    idle = float(re.search(r"keepalive_timeout\s+(\d+)s;", upstream).group(1))
    requests = int(re.search(r"keepalive_requests\s+(\d+);", upstream).group(1))
    check(idle < ragd_idle and requests <= ragd_max,
          f"nginx keeps upstream connections {idle} s / {requests} requests, ragd {ragd_idle} s / {ragd_max}")
    check("proxy_buffering off;" in conf and 'proxy_set_header Connection "";' in conf, "nginx: streaming, keep-alive")

    # The location that retries POSTs after sending them: exactly the computations.
    locations = re.findall(r"location ~ (\S+) \{(.*?)\n    \}", conf, re.S)
    retried = [pattern for pattern, body in locations if "non_idempotent" in body]
    check(len(retried) == 1, f"nginx: one location with non_idempotent retries, found {len(retried)}")
    check("non_idempotent" not in re.sub(r"location ~ .*?\n    \}", "", conf, flags=re.S).split("#")[0],
          "non_idempotent outside the computations' location")
    if retried:
        matched = {p for p in POSTS if re.search(retried[0], p)}
        check(matched == COMPUTE_POSTS, f"POST routes retried after sending: {sorted(matched)}; "
              f"expected {sorted(COMPUTE_POSTS)} (a new route must be placed on purpose)")
        check(COMPUTE_POSTS <= POSTS, f"routes ragd does not serve: {sorted(COMPUTE_POSTS - POSTS)}")

    nginx = nginx_harness.binary()
    if not nginx:
        skipped.append("nginx is not installed, `nginx -t` not run (scripts/setup installs Debian's nginx)")
        return
    # Compose's host names do not resolve here: nginx -t resolves upstream names.
    rendered = nginx_harness.render(conf, nginx_harness.free_port(), ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])
    ok, out = nginx_harness.check_config(nginx, rendered)
    check(ok, f"nginx -t:\n{out}")


# --- deploy/k8s/*.yaml ---
def validate_k8s():
    docs = {}
    k8s_dir = os.path.join(ROOT, "deploy", "k8s")
    for name in sorted(os.listdir(k8s_dir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(k8s_dir, name)) as f:
            for doc in yaml.safe_load_all(f):
                if not doc:
                    continue
                for version in K8S_VERSIONS:
                    try:
                        kubernetes_validate.validate(doc, version or kubernetes_validate.latest_version(), strict=True)
                    except Exception as e:  # ValidationError, SchemaNotFoundError: both fail the test
                        check(False, f"k8s {name} ({version or 'latest'}): {type(e).__name__}: {getattr(e, 'message', e)}")
                docs[doc["kind"]] = doc
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "PersistentVolumeClaim"):
        check(kind in docs, f"deploy/k8s: no {kind}")

    config_map = docs["ConfigMap"]
    settings = yaml.safe_load(config_map["data"]["ragd.yaml"])
    port = settings["server"]["port"]
    deployment = docs["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    check(deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), "k8s: selector does not match pods")
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(ports.get("http") == port, f"k8s: containerPort {ports} != server.port {port} of the ConfigMap")
    for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health"), ("startupProbe", "/health")):
        get = container[probe]["httpGet"]
        check(get["path"] == path and get["path"] in PUBLIC_GETS, f"k8s {probe}: {get['path']}")
        check(get["port"] in ports or get["port"] == port, f"k8s {probe}: port {get['port']}")
    check_serve_args("k8s Deployment", container["args"])
    check_env("k8s Deployment", [e["name"] for e in container.get("env", [])])
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    config_path = container["args"][container["args"].index("--config") + 1]
    config_mount = mounts.get(os.path.dirname(config_path))
    check(config_mount and volumes[config_mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
          and os.path.basename(config_path) in config_map["data"], f"k8s: --config {config_path} is not the ConfigMap")
    models = mounts.get(image_env["RAGD_MODEL_DIR"])
    check(models and models.get("readOnly") and volumes[models["name"]]["persistentVolumeClaim"]["claimName"]
          == docs["PersistentVolumeClaim"]["metadata"]["name"], "k8s: models are not the PVC, read-only, at the model dir")
    check(image_env["RAGD_DATA_DIR"] in mounts, "k8s: no data volume at the image's data dir")
    check(pod["securityContext"]["runAsUser"] == 10001, "k8s: not the image's user 10001")

    service = docs["Service"]
    check(service["spec"]["selector"].items() <= labels.items(), "k8s Service selects no ragd pod")
    check([p["targetPort"] for p in service["spec"]["ports"]] == ["http"], "k8s Service targets another port")

    hpa = docs["HorizontalPodAutoscaler"]
    ref = hpa["spec"]["scaleTargetRef"]
    check(ref["kind"] == "Deployment" and ref["name"] == deployment["metadata"]["name"], f"HPA scales {ref}")
    (metric,) = hpa["spec"]["metrics"]
    check(metric["type"] == "Pods", f"HPA metric type {metric['type']}")
    name = metric["pods"]["metric"]["name"]
    check(name in METRICS, f"HPA metric {name} is not registered by ragd (src/server)")
    return config_map["data"]["ragd.yaml"], name


def serve_with_config_map(settings_text, metric):
    """ragd serve with the ConfigMap's settings (host and port overridden for the test):
    it starts, turns ready (models.warmup) and serves the HPA's metric on /metrics."""
    models = os.path.join(ROOT, "models")
    if not os.path.exists(os.path.join(models, serve_harness.LLM + ".gguf")):
        skipped.append(f"{serve_harness.LLM}.gguf missing: the ConfigMap's settings were not served (make models)")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="ragd-configmap-") as f:
        f.write(settings_text)
        f.flush()
        try:
            with serve_harness.Server(RAGD, models, "--config", f.name, "--host", "127.0.0.1", embedder=False) as s:
                samples = [line for line in s.metrics().splitlines() if line.startswith(metric + "{")]
                check(samples, f"/metrics of ragd with the ConfigMap's settings has no {metric} sample")
        except RuntimeError as e:
            check(False, f"ragd serve with the ConfigMap's settings: {e}")


replicas, nginx_service = validate_compose()
check_nginx_conf(replicas, nginx_service)
settings_text, metric = validate_k8s()
serve_with_config_map(settings_text, metric)

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
if skipped:
    print("skip: every other check passed; " + "; ".join(skipped))
    sys.exit(77)
print("deploy manifests: all checks passed")
