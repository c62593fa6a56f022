"""Runs Debian's nginx with deploy/nginx/ragd.conf in a temporary prefix, and ragd replicas
for it to balance, for tests/e2e/nginx_replicas_test.py, tests/app/deploy_manifests_test.py
and bench/nginx_replicas.py.

The config file is the one source: render() changes only its `listen` port and the
`server` lines of `upstream ragd`, so the tests run exactly what deploy/compose.yaml runs.
nginx runs as the current user (every path in the config is relative to the prefix)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from serve_harness import LLM, free_port, stop_process

CONF = os.path.join("deploy", "nginx", "ragd.conf")


def binary():
    """The nginx executable, or None (then the tests skip: scripts/setup installs it)."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def render(text, listen, upstreams):
    """The config with `listen LISTEN` on 127.0.0.1 and one `server ADDR PARAMS;` line per
    address in `upstreams`, each with the parameters of the file's first server line.
    Raises ValueError when the file no longer has the lines this relies on."""
    block = re.search(r"^([ \t]*)upstream ragd \{\n(.*?)^\1\}", text, re.S | re.M)
    if not block:
        raise ValueError(f"{CONF}: no 'upstream ragd {{...}}' block")
    body = block.group(2)
    servers = re.findall(r"^([ \t]*)server[ \t]+(\S+)((?:[ \t]+[^;\s]+)*);[ \t]*$", body, re.M)
    if not servers:
        raise ValueError(f"{CONF}: no server lines in 'upstream ragd'")
    indent, _, params = servers[0]
    new_lines = "".join(f"{indent}server {addr}{params};\n" for addr in upstreams)
    server_line = r"^[ \t]*server[ \t]+\S+[^\n]*;[ \t]*\n"
    first = re.search(server_line, body, re.M)
    body = re.sub(server_line, "", body, flags=re.M)
    body = body[:first.start()] + new_lines + body[first.start():]
    text = text[:block.start(2)] + body + text[block.end(2):]
    text, n = re.subn(r"^([ \t]*)listen[ \t]+\d+;", rf"\g<1>listen 127.0.0.1:{listen};", text, flags=re.M)
    if n != 1:
        raise ValueError(f"{CONF}: expected one 'listen PORT;' line, found {n}")
    return text


class Nginx:
    """nginx from `conf_text` (the rendered config) in a fresh prefix; a context manager."""

    def __init__(self, nginx, conf_text, port):
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-nginx-")
        self.prefix = self.tmp.name
        # Run as root, nginx's workers drop to `nobody`: they must reach the temp dirs.
        os.chmod(self.prefix, 0o755)
        self.conf = os.path.join(self.prefix, "ragd.conf")
        with open(self.conf, "w") as f:
            f.write(conf_text)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.access_log = os.path.join(self.prefix, "access.log")
        self.error_log = os.path.join(self.prefix, "error.log")
        self.out = open(self.access_log, "w")
        self.err = open(self.error_log, "w")
        self.proc = subprocess.Popen([nginx, "-p", self.prefix, "-c", self.conf,
                                      "-g", "daemon off;"], stdout=self.out, stderr=self.err)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    errors = self.errors()
                    self.stop()
                    self.tmp.cleanup()
                    raise RuntimeError(f"nginx did not start:\n{errors}")
                time.sleep(0.05)

    def errors(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.error_log) as f:
            return f.read()[-4000:]

    def log_lines(self):
        if not self.out.closed:
            self.out.flush()
        with open(self.access_log) as f:
            return f.read().splitlines()

    def stop(self):
        stop_process(self.proc, timeout=10)
        self.out.close()
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            print("--- nginx error log (tail) ---\n" + self.errors(), flush=True)
        self.tmp.cleanup()


def start(nginx, conf_text, upstreams, tries=3):
    """Nginx with the config rendered for `upstreams` on a free port; another port when
    the chosen one was taken between choosing and binding."""
    for attempt in range(tries):
        port = free_port()
        try:
            return Nginx(nginx, render(conf_text, port, upstreams), port)
        except RuntimeError as e:
            if "Address already in use" not in str(e) or attempt == tries - 1:
                raise


def check_config(nginx, conf_text):
    """(ok, output) of `nginx -t` on the rendered config in a temporary prefix."""
    with tempfile.TemporaryDirectory(prefix="ragd-nginx-t-") as prefix:
        conf = os.path.join(prefix, "ragd.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        r = subprocess.run([nginx, "-t", "-p", prefix, "-c", conf], capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr


def status_of(url):
    """The HTTP status of GET url; 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


class Replica:
    """`ragd serve` as serve_harness.Server starts it (temporary database, the fast model,
    --warmup), on a port of its choosing at the first start and on the same port when
    restarted, where nginx expects it. `extra`: more command-line flags (--store, --cache,
    --embedder)."""

    def __init__(self, ragd, models, workdir, threads=1, extra=()):
        self.ragd, self.models, self.workdir, self.threads = ragd, models, workdir, threads
        self.extra = list(extra)
        self.port = None
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.workdir, f"replica-{id(self)}.log"), "a")
        cmd = [self.ragd, "--log-level", "info", "serve", "--port", str(self.port or 0),
               "--db", os.path.join(self.workdir, f"db-{id(self)}"),
               "--model", os.path.join(self.models, LLM + ".gguf"), "--warmup",
               # The replicas share the machine's cores: one compute thread each by default.
               "--threads", str(self.threads), *self.extra]
        env = {k: v for k, v in os.environ.items() if k not in ("RAGD_MODEL_DIR", "RAGD_DATA_DIR")}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, cwd=self.workdir, env=env,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://[\d.]+:(\d+)", line)
        if not m:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"replica did not start: {line!r}\n{self.logs()}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while status_of(self.url + "/ready") != 200:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"replica on {self.port} not ready:\n{self.logs()}")
            time.sleep(0.1)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.proc.stdout.close()
        if self.log:
            self.log.close()

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-3000:]

    def answered(self, endpoint):
        """Requests to `endpoint` this process answered 200 (0 before the first)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=30) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            m = re.match(r'ragd_http_requests_total\{(.*)\} (\S+)$', line)
            if m and f'endpoint="{endpoint}"' in m.group(1) and 'status="200"' in m.group(1):
                total += float(m.group(2))
        return total
