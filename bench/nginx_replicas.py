"""Throughput of 1, 2 and 3 ragd replicas behind nginx (deploy/nginx/ragd.conf), and what
nginx adds per request (docs/scaling.md, "Replicas behind nginx").

    .venv/bin/python bench/nginx_replicas.py build/bin/ragd . [--seconds 30] [--clients 8]

For each replica count N: N `ragd serve` processes with the fast model, the machine's cores
split between them (--threads max(1, cores / N)), nginx in front; `clients` threads loop on
non-streaming chat completions (max_tokens 16, fixed prompt) through nginx for `seconds`
after a warm-up. Printed per N: completions/s, generated tokens/s, latency p50/p95, nginx's
CPU time per request (its processes' utime + stime, in clock ticks of 10 ms: over 30 s
about ±15 %), each replica's resident and anonymous memory.
Then one replica direct (same clients, no nginx), and the latency nginx adds to one
request at a time: GET /health and a 1-token completion, 300 of each, direct and through
nginx, on kept-alive connections. Needs nginx and the fast model (exit 77 without)."""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import nginx_harness  # noqa: E402
from serve_harness import LLM  # noqa: E402

BODY = {"model": LLM, "messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 16,
        "temperature": 0}


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            pass
    return total / tick


def nginx_pids(master):
    pids = [master]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(pid))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def memory_mib(pid):
    """(resident, anonymous) MiB of a process. The model file is mapped shared and read-only,
    so replicas on one host share its pages: what each adds is the anonymous part (KV cache,
    activations, caches)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.endswith("kB\n")}
    return round(fields["Rss"] / 1024), round(fields["Anonymous"] / 1024)


def drive(port, clients, seconds, warmup=3.0):
    """(completions, tokens, latencies, errors) of the measured window."""
    stop_at = time.time() + warmup + seconds
    start_at = time.time() + warmup
    lock = threading.Lock()
    out = {"n": 0, "all": 0, "tokens": 0, "lat": [], "errors": 0}

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        payload = json.dumps(BODY)
        while time.time() < stop_at:
            t0 = time.time()
            try:
                conn.request("POST", "/v1/chat/completions", payload, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                ok = False
            t1 = time.time()
            with lock:
                out["all"] += 1  # warm-up included: nginx's CPU time covers those too
            if t0 < start_at or t1 > stop_at:
                continue
            with lock:
                if ok:
                    out["n"] += 1
                    out["tokens"] += json.loads(data)["usage"]["completion_tokens"]
                    out["lat"].append(t1 - t0)
                else:
                    out["errors"] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def sequential(port, method, path, body, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body) if body else None
    lat = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        conn.request(method, path, payload, {"Content-Type": "application/json"} if body else {})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status}")
        if i >= 20:
            lat.append(time.perf_counter() - t0)
    conn.close()
    return lat


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ragd")
    p.add_argument("repo")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--clients", type=int, default=8)
    a = p.parse_args()
    ragd, repo = os.path.abspath(a.ragd), os.path.abspath(a.repo)
    models = os.path.join(repo, "models")
    nginx = nginx_harness.binary()
    if not nginx or not os.path.exists(os.path.join(models, LLM + ".gguf")):
        print("skip: needs nginx and the fast model")
        sys.exit(77)
    with open(os.path.join(repo, nginx_harness.CONF)) as f:
        conf = f.read()
    cores = os.cpu_count()
    print(f"{cores} cores, load average before: {os.getloadavg()}")
    work = tempfile.TemporaryDirectory(prefix="ragd-bench-")

    for n in (1, 2, 3):
        threads = max(1, cores // n)
        replicas = [nginx_harness.Replica(ragd, models, work.name, threads=threads) for _ in range(n)]
        try:
            for r in replicas:
                r.start()
            with nginx_harness.start(nginx, conf, [f"127.0.0.1:{r.port}" for r in replicas]) as ng:
                port = ng.port
                pids = nginx_pids(ng.proc.pid)
                cpu0 = cpu_seconds(pids)
                res = drive(port, a.clients, a.seconds)
                cpu = cpu_seconds(pids) - cpu0
            mem = [memory_mib(r.proc.pid) for r in replicas]
            if n == 1:
                direct = drive(replicas[0].port, a.clients, a.seconds)
                health_direct = sequential(replicas[0].port, "GET", "/health", None, 300)
                one_token = dict(BODY, max_tokens=1)
                gen_direct = sequential(replicas[0].port, "POST", "/v1/chat/completions", one_token, 300)
                with nginx_harness.start(nginx, conf, [f"127.0.0.1:{replicas[0].port}"]) as ng2:
                    health_nginx = sequential(ng2.port, "GET", "/health", None, 300)
                    gen_nginx = sequential(ng2.port, "POST", "/v1/chat/completions", one_token, 300)
        finally:
            for r in replicas:
                r.stop()
        print(f"replicas={n} threads_each={threads} via nginx: {res['n'] / a.seconds:.2f} completions/s, "
              f"{res['tokens'] / a.seconds:.1f} tokens/s, p50 {pct(res['lat'], .5) * 1000:.0f} ms, "
              f"p95 {pct(res['lat'], .95) * 1000:.0f} ms, errors {res['errors']}, "
              f"nginx CPU {cpu * 1000 / max(1, res['all']):.3f} ms/request, replica (RSS, anonymous) MiB {mem}",
              flush=True)
        if n == 1:
            print(f"replicas=1 direct (no nginx): {direct['n'] / a.seconds:.2f} completions/s, "
                  f"{direct['tokens'] / a.seconds:.1f} tokens/s, p50 {pct(direct['lat'], .5) * 1000:.0f} ms, "
                  f"p95 {pct(direct['lat'], .95) * 1000:.0f} ms, errors {direct['errors']}", flush=True)
            for name, d, g in (("GET /health", health_direct, health_nginx),
                               ("1-token completion", gen_direct, gen_nginx)):
                print(f"{name}, one at a time: direct p50 {statistics.median(d) * 1e3:.3f} ms "
                      f"p95 {pct(d, .95) * 1e3:.3f} ms; via nginx p50 {statistics.median(g) * 1e3:.3f} ms "
                      f"p95 {pct(g, .95) * 1e3:.3f} ms; added p50 {(statistics.median(g) - statistics.median(d)) * 1e3:.3f} ms",
                      flush=True)
    print(f"load average after: {os.getloadavg()}")
    work.cleanup()


if __name__ == "__main__":
    main()
