"""Starts `ragd serve` on a free 127.0.0.1 port with a temporary database, for the end-to-end
tests in this folder (each *_test.py is run by ctest as: python TEST RAGD_BINARY REPO_ROOT).

Exit code 77 tells ctest the test was skipped (models or Python packages missing)."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77

LLM = "SmolLM2-135M-Instruct.Q4_1"
EMBEDDER = "all-MiniLM-L6-v2.F32"


def free_port():
    """A port free on 127.0.0.1 now, for a process that must be restartable on the same port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(url, proc, path="/ready", timeout=120):
    """Polls GET url+path until it answers 200; False if `proc` exits first or `timeout` s
    pass (the caller raises with its own logs)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + path, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def metric_sum(text, name, **labels):
    """Sum of the series of `name` in Prometheus text whose labels include `labels`; None
    when there is none."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
            found = True
    return total if found else None


def stop_process(proc, timeout=30):
    """SIGTERM, then SIGKILL if it is still running after `timeout` s; waits either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def args(embedder=True):
    """(ragd, repo, models) from RAGD_BINARY REPO_ROOT; skips unless the LLM (and, with
    embedder, the embedding model) is installed."""
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} RAGD_BINARY REPO_ROOT", file=sys.stderr)
        sys.exit(2)
    ragd, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    models = os.path.abspath(os.environ.get("RAGD_MODEL_DIR", os.path.join(repo, "models")))
    for name in (LLM, EMBEDDER) if embedder else (LLM,):
        if not os.path.exists(os.path.join(models, name + ".gguf")):
            print(f"skip: {name}.gguf not in {models} (run 'make models')")
            sys.exit(SKIP)
    return ragd, repo, models


class Server:
    """A running `ragd serve`; use as a context manager. Extra flags go to the command line.
    With --tls-cert/--tls-key among them, `cafile` is the CA that request() verifies with."""

    def __init__(self, ragd, models, *extra, embedder=True, ready_timeout=120, cafile=None):
        self.ssl = ssl.create_default_context(cafile=cafile) if cafile else None
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-e2e-")
        self.log_path = os.path.join(self.tmp.name, "server.log")
        cmd = [ragd, "--log-level", "info", "serve", "--port", "0", "--db", os.path.join(self.tmp.name, "db"),
               "--model", os.path.join(models, LLM + ".gguf"), "--warmup", "--threads", "2", *extra]
        if embedder:
            cmd += ["--embedder", os.path.join(models, EMBEDDER + ".gguf")]
        self.log = open(self.log_path, "w")
        # Run from the temporary directory without RAGD_MODEL_DIR, so that the server finds
        # no default models of its own: it serves exactly the ones named here.
        env = {k: v for k, v in os.environ.items() if k not in ("RAGD_MODEL_DIR", "RAGD_DATA_DIR")}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=self.tmp.name,
                                     env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on ((https?)://[\d.]+:(\d+))", line)
        if not m:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"server did not start: {line!r}\n{self.logs()}")
        self.url = m.group(1)
        self.scheme = m.group(2)
        self.port = int(m.group(3))
        deadline = time.time() + ready_timeout
        while True:
            status, _, _ = self.request("GET", "/ready")
            if status == 200:
                break
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server not ready (last status {status})\n{self.logs()}")
            time.sleep(0.1)

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def request(self, method, path, body=None, headers=None, raw=None, timeout=120):
        """(status, parsed JSON or text, headers); never raises for HTTP errors."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl) as r:
                status, text, hdrs = r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), dict(e.headers)
        except (urllib.error.URLError, ConnectionError):
            return 0, None, {}
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def metrics(self):
        _, text, _ = self.request("GET", "/metrics")
        return text

    def metric(self, name, **labels):
        """Sum of the series of `name` whose labels include `labels`."""
        return metric_sum(self.metrics(), name, **labels)

    def stop(self):
        stop_process(self.proc)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        self.stop()
        if failed:
            with open(self.log_path) as f:
                print("--- server log (tail) ---\n" + f.read()[-4000:], file=sys.stderr)
        self.tmp.cleanup()


def check(cond, message):
    if not cond:
        raise AssertionError(message)
