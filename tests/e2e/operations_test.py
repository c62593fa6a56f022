"""Operations that tell the truth: bad settings stop `ragd serve` with the key named, a
model that cannot load fails a --warmup start, an exposed server without keys warns, API
keys have scopes and collection limits, and /metrics (behind a key) passes promtool and
carries the operator metrics (process_*, memory, KV usage, preemptions, active users)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from serve_harness import LLM, Server, args, check

ADMIN = "ops-admin-key-0001"
QUERY = "ops-query-key-0002"
LIMITED = "ops-limited-key-0003"
ENV_QUERY = "ops-env-query-key-0004"


def serve_cmd(ragd, tmp, *extra):
    port = [] if "--port" in extra else ["--port", "0"]
    return [ragd, "serve", *port, "--db", os.path.join(tmp, "db"), *extra]


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("RAGD_")}


def run_fails(ragd, tmp, extra, needles, timeout=60):
    """Runs `ragd serve` expecting it to exit 1 with every needle on stderr."""
    p = subprocess.run(serve_cmd(ragd, tmp, *extra), capture_output=True, text=True, timeout=timeout, cwd=tmp,
                       env=clean_env())
    check(p.returncode == 1, f"{extra}: expected exit 1, got {p.returncode}\n{p.stdout}\n{p.stderr}")
    check("listening" not in p.stdout or "--warmup" in " ".join(extra), f"{extra}: it started: {p.stdout}")
    for n in needles:
        check(n in p.stderr, f"{extra}: {n!r} not in stderr: {p.stderr}")


def check_settings(ragd, tmp, llm):
    def config(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    cases = [
        (["--config", config("typo.yaml", "server:\n  prot: 9000\n")],
         ["unknown setting 'server.prot'", "did you mean 'server.port'", "typo.yaml"]),
        (["--config", config("section.yaml", "schedular:\n  max_concurrent: 4\n")],
         ["unknown section 'schedular'", "did you mean 'scheduler.max_concurrent'"]),
        (["--config", config("negative.yaml", "scheduler:\n  max_concurrent: -5\n")],
         ["'scheduler.max_concurrent' must be between 1 and 1000000, got -5", "negative.yaml"]),
        (["--port", "70000"], ["'server.port' must be between 0 and 65535, got 70000"]),
        (["--max-kv-cache-size=-5MiB"], ["'scheduler.max_kv_cache_size' must be a size"]),
        (["--max-body-size", "12parsecs"], ["'server.max_body_bytes' must be a size"]),
    ]
    for extra, needles in cases:
        run_fails(ragd, tmp, ["--model", llm, *extra], needles)
    # A key file with a bad line names the line, never the key on it.
    keys = config("bad-keys.txt", "# keys\nsecret-in-line-two sudo\n")
    run_fails(ragd, tmp, ["--model", llm, "--api-key-file", keys], ["bad-keys.txt:2"])
    p = subprocess.run(serve_cmd(ragd, tmp, "--model", llm, "--api-key-file", keys), capture_output=True, text=True,
                       timeout=60, cwd=tmp, env=clean_env())
    check("secret-in-line-two" not in p.stderr, p.stderr)


def check_warmup_failure(ragd, tmp):
    bad = os.path.join(tmp, "broken.gguf")
    with open(bad, "wb") as f:
        f.write(b"GGUF" + b"\xff" * 4096)  # the magic, then nonsense
    run_fails(ragd, tmp, ["--model", bad, "--warmup"], ["--warmup", "the server stopped"])


def check_exposed_warning(ragd, tmp, llm):
    def start(*extra):
        p = subprocess.Popen(serve_cmd(ragd, tmp, "--model", llm, *extra), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=tmp, env=clean_env())
        line = p.stdout.readline()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        check("listening on http://0.0.0.0" in line, f"{extra}: did not start: {line!r} {err}")
        return err

    err = start("--host", "0.0.0.0")
    check("without an API key" in err and "0.0.0.0" in err, f"no warning: {err}")
    err = start("--host", "0.0.0.0", "--api-key", ADMIN)
    check("without an API key" not in err, f"warned despite a key: {err}")


def check_keys_and_metrics(ragd, models, tmp):
    key_file = os.path.join(tmp, "keys.txt")
    with open(key_file, "w") as f:
        f.write(f"# ops test keys\n{QUERY} query\n{LIMITED} query collections=team-a\n")
    os.environ["RAGD_SERVER_QUERY_API_KEYS"] = ENV_QUERY
    try:
        with Server(ragd, models, "--api-key", ADMIN, "--api-key-file", key_file, embedder=False) as srv:
            check_scopes(srv)
            check_metrics(srv)
            check_request_ids(srv)
    finally:
        del os.environ["RAGD_SERVER_QUERY_API_KEYS"]


def auth(key):
    return {"Authorization": "Bearer " + key}


def check_scopes(srv):
    def status(method, path, key, body=None, expect=None):
        got, payload, _ = srv.request(method, path, body=body, headers=auth(key) if key else {})
        if expect is not None:
            check(got == expect, f"{method} {path} as {key}: expected {expect}, got {got}: {str(payload)[:300]}")
        if got >= 400:
            text = str(payload)
            for secret in (ADMIN, QUERY, LIMITED, ENV_QUERY, "wrong-key-zzz"):
                check(secret not in text, f"{method} {path}: the error echoes a key: {text}")
        return payload

    doc = {"documents": [{"id": "d1", "text": "The launch moved to Friday after the review."}]}
    def ask(key, collection):
        # A different question per key, so that no answer comes from the answer cache:
        # each key's request reaches the scheduler (and counts as an active user).
        return {"question": f"When is the launch ({key[-4:]})?", "mode": "bm25", "max_tokens": 4,
                "collection": collection}

    for name in ("team-a", "team-b"):
        status("POST", "/v1/collections", QUERY, {"name": name}, 403)
        status("POST", "/v1/collections", ADMIN, {"name": name}, 201)
        status("POST", f"/v1/collections/{name}/documents", QUERY, doc, 403)
        status("POST", f"/v1/collections/{name}/documents", ADMIN, doc, 200)
    status("GET", "/v1/models", None, expect=401)
    status("GET", "/v1/models", "wrong-key-zzz", expect=401)
    err = status("POST", "/v1/cache", QUERY, {"action": "clear"}, 403)
    check(err["error"]["code"] == "insufficient_scope", err)
    status("POST", f"/v1/models/{LLM}/unload", ENV_QUERY, {}, 403)  # the environment's key is a query key
    status("POST", "/v1/rag/query", QUERY, ask(QUERY, "team-b"), 200)
    status("POST", "/v1/rag/query", ENV_QUERY, ask(ENV_QUERY, "team-a"), 200)
    # A collection-limited key: its collection works, another is 403 by path or by body.
    status("POST", "/v1/rag/query", LIMITED, ask(LIMITED, "team-a"), 200)
    err = status("POST", "/v1/rag/query", LIMITED, ask(LIMITED, "team-b"), 403)
    check(err["error"]["code"] == "collection_forbidden", err)
    status("POST", "/v1/rag/query", LIMITED, ask(LIMITED, "no-such"), 403)  # no existence probe
    status("POST", "/v1/search", LIMITED, {"query": "launch", "collection": "team-b"}, 403)
    status("POST", "/v1/search", LIMITED, {"query": "launch", "collection": "team-a", "mode": "bm25"}, 200)
    status("GET", "/v1/collections/team-b/documents", LIMITED, expect=403)
    status("GET", "/v1/collections/team-a/documents/d1", LIMITED, expect=200)
    names = [c["name"] for c in status("GET", "/v1/collections", LIMITED, expect=200)["data"]]
    check(names == ["team-a"], f"a limited key sees {names}")
    # Ingestion jobs and metrics of other collections are invisible to a limited key.
    jobs = status("GET", "/v1/ingest", ADMIN, expect=200)["data"]
    team_b = [j for j in jobs if j["collection"] == "team-b"]
    check(team_b and any(j["collection"] == "team-a" for j in jobs), f"admin sees every job: {jobs}")
    seen = {j["collection"] for j in status("GET", "/v1/ingest", LIMITED, expect=200)["data"]}
    check(seen == {"team-a"}, f"a limited key sees the jobs of {seen}")
    status("GET", f"/v1/ingest/{team_b[0]['id']}", LIMITED, expect=404)
    status("GET", f"/v1/ingest/{team_b[0]['id']}", ADMIN, expect=200)
    _, text, _ = srv.request("GET", "/metrics", headers=auth(LIMITED))
    check('collection="team-a"' in text and 'collection="team-b"' not in text,
          "a limited key's /metrics names other collections")
    _, text, _ = srv.request("GET", "/metrics", headers=auth(ADMIN))
    check('collection="team-b"' in text, "the admin key's /metrics lacks team-b")
    batch = {"requests": [{"type": "rag", "body": ask(LIMITED, "team-b")}]}
    result = status("POST", "/v1/batch", LIMITED, batch, 200)["results"][0]
    check(result["status"] == 403, f"batch item on another collection: {result}")
    # Deletions: query keys may not, admin keys may.
    status("DELETE", "/v1/collections/team-b/documents/d1", QUERY, expect=403)
    status("DELETE", "/v1/collections/team-b/documents/d1", ADMIN, expect=200)
    status("DELETE", "/v1/collections/team-b", LIMITED, expect=403)
    status("DELETE", "/v1/collections/team-b", ADMIN, expect=200)
    check(srv.request("GET", "/health")[0] == 200 and srv.request("GET", "/ready")[0] == 200, "probes stay open")


def check_metrics(srv):
    got, payload, headers = srv.request("GET", "/metrics")
    check(got == 401 and headers.get("WWW-Authenticate") == "Bearer", f"/metrics without a key: {got}")
    got, text, _ = srv.request("GET", "/metrics", headers=auth(QUERY))
    check(got == 200 and isinstance(text, str), f"/metrics with a query key: {got}")
    promtool = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, "promtool: " + p.stdout + p.stderr)
    else:
        print("note: promtool not installed; the exposition format was not checked")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            values[name] = values.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                 "process_start_time_seconds", "process_max_fds", "ragd_memory_usage_ratio",
                 "ragd_machine_memory_bytes", "ragd_kv_cache_usage_ratio", "ragd_preemptions_total",
                 "ragd_active_users"):
        check(name in values, f"{name} missing from /metrics")
    check(values["process_resident_memory_bytes"] > 1 << 20, values["process_resident_memory_bytes"])
    check(0 < values["ragd_memory_usage_ratio"] < 1, values["ragd_memory_usage_ratio"])
    check(0 <= values["ragd_kv_cache_usage_ratio"] <= 1, values["ragd_kv_cache_usage_ratio"])
    check(values["process_open_fds"] >= 3 and values["process_cpu_seconds_total"] > 0, values)
    # Three keys asked questions above: three distinct users.
    check(values["ragd_active_users"] == 3, f"active users: {values['ragd_active_users']}")
    for secret in (ADMIN, QUERY, LIMITED, ENV_QUERY):
        check(secret not in text, "/metrics shows a key")


def check_request_ids(srv):
    """Every response names its request id (X-Request-Id), and the access log line too: a
    plain token from the client (or nginx) is kept, anything else is replaced."""
    hex32 = re.compile(r"^[0-9a-f]{32}$")
    _, _, headers = srv.request("GET", "/health", headers={"X-Request-Id": "trace-42.a:b_c"})
    check(headers.get("X-Request-Id") == "trace-42.a:b_c", f"client id not kept: {headers}")
    _, _, headers = srv.request("GET", "/health", headers={"X-Request-Id": "two words;x"})
    replaced = headers.get("X-Request-Id", "")
    check(hex32.match(replaced), f"unsafe client id not replaced: {replaced!r}")
    got, _, headers = srv.request("GET", "/metrics")  # an error response carries one too
    first = headers.get("X-Request-Id", "")
    check(got == 401 and hex32.match(first), f"no id on a 401: {got} {headers}")
    _, _, headers = srv.request("GET", "/health")
    check(hex32.match(headers.get("X-Request-Id", "")) and headers["X-Request-Id"] != first,
          f"generated ids repeat: {first} {headers}")
    deadline = time.time() + 10
    while "request_id=trace-42.a:b_c" not in srv.logs() and time.time() < deadline:
        time.sleep(0.1)
    check("request_id=trace-42.a:b_c" in srv.logs(), "the access log does not name the request id")
    check(f"request_id={replaced}" in srv.logs(), "the access log does not name a generated id")


def check_trusted_proxies(ragd, models, tmp):
    """--trusted-proxy: the client named by X-Forwarded-For from a trusted peer is the one
    rate-limited and logged; from an untrusted peer the header is ignored."""
    forwarded = {"X-Forwarded-For": "198.51.100.23"}
    with Server(ragd, models, "--rate-limit", "2", embedder=False) as srv:  # the peer 127.0.0.1 is not trusted
        statuses = [srv.request("GET", "/v1/models", headers=forwarded)[0] for _ in range(3)]
        check(statuses[-1] == 429, f"untrusted X-Forwarded-For escaped the limit: {statuses}")
        check("198.51.100.23" not in srv.logs(), "an untrusted X-Forwarded-For reached the log")
    with Server(ragd, models, "--rate-limit", "2", "--trusted-proxy", "127.0.0.0/8", embedder=False) as srv:
        statuses = [srv.request("GET", "/v1/models", headers=forwarded)[0] for _ in range(3)]
        check(statuses == [200, 200, 429], f"forwarded client not limited on its own: {statuses}")
        got = srv.request("GET", "/v1/models", headers={"X-Forwarded-For": "198.51.100.24"})[0]
        check(got == 200, f"another forwarded client shared the first one's limit: {got}")
        deadline = time.time() + 10
        while "198.51.100.24" not in srv.logs() and time.time() < deadline:
            time.sleep(0.1)
        check("198.51.100.24" in srv.logs(), "the access log does not name the forwarded client")
    run_fails(ragd, tmp, ["--model", os.path.join(models, LLM + ".gguf"), "--trusted-proxy", "nginx"],
              ["trusted proxy 'nginx'"])


def main():
    ragd, _, models = args()
    llm = os.path.join(models, LLM + ".gguf")
    with tempfile.TemporaryDirectory(prefix="ragd-ops-") as tmp:
        check_settings(ragd, tmp, llm)
        check_warmup_failure(ragd, tmp)
        check_exposed_warning(ragd, tmp, llm)
        check_keys_and_metrics(ragd, models, tmp)
        check_trusted_proxies(ragd, models, tmp)
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
