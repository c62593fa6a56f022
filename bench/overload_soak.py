"""Overload soak (issue 13): `ragd serve` with a small admission bound under twice as many
streaming chat clients as it admits, for RAGD_SOAK_SECONDS (default 120).

    .venv/bin/python bench/overload_soak.py build/bin/ragd . [--seconds N] [--csv FILE]

Every client loops: a streamed /v1/chat/completions (a random max_tokens; one in ten is
abandoned after a few chunks, as a client that goes away), then the next. Counted: 200
streams read to [DONE], abandoned ones, 503 / 429 refusals (each must carry Retry-After),
any other status, connection errors, and streams that ended without [DONE]. The server's
resident memory (VmRSS) is sampled every second into a CSV.

At the end, once the clients have stopped and the server is idle, /metrics must show no
request running or waiting, the KV blocks in use back to their idle count, and every
admitted request finished. Exit 1 on a crash, an unexpected status or broken stream, a
leaked request or block, or (for runs of a minute or more) resident memory that keeps
growing; 77 when the models are missing (the e2e convention)."""
import argparse
import csv
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from serve_harness import LLM, Server, args as harness_args  # noqa: E402

# Resident memory may grow this much (plus RSS_SLACK_MIB) from the early run to the end
# before it counts as a leak: allocator arenas and caches settle during the first minutes.
RSS_GROWTH = 1.25
RSS_SLACK_MIB = 64


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"complete": 0, "abandoned": 0, "503": 0, "429": 0, "other_status": 0, "no_retry_after": 0,
                       "connection_error": 0, "incomplete": 0}
        self.examples = []

    def add(self, key, example=None):
        with self.lock:
            self.counts[key] += 1
            if example and len(self.examples) < 10:
                self.examples.append(f"{key}: {example}")


def one_stream(port, rng, tally):
    body = {"model": LLM, "messages": [{"role": "user", "content": "Tell me about the sea."}],
            "max_tokens": rng.randint(8, 48), "stream": True}
    abandon_after = rng.randint(2, 4) if rng.random() < 0.1 else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status in (503, 429):
            retry = resp.getheader("Retry-After", "")
            resp.read()
            tally.add(str(resp.status))
            if not retry.isdigit() or int(retry) < 1:
                tally.add("no_retry_after", f"{resp.status} Retry-After={retry!r}")
            return 0.1 + rng.random() * 0.2  # back off briefly: the point is to stay over the bound
        if resp.status != 200:
            tally.add("other_status", f"{resp.status} {resp.read()[:200]!r}")
            return 0
        chunks, done = 0, False
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunks += 1
            if abandon_after is not None and chunks >= abandon_after:
                tally.add("abandoned")
                return 0
        tally.add("complete" if done else "incomplete", None if done else f"{chunks} chunks, no [DONE]")
        return 0
    except (OSError, http.client.HTTPException) as e:
        tally.add("connection_error", repr(e))
        return 0.2
    finally:
        conn.close()


def client(port, seed, stop, tally):
    rng = random.Random(seed)
    while not stop.is_set():
        pause = one_stream(port, rng, tally)
        if pause:
            stop.wait(pause)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sample_rss(pid, stop, tally, rows, start):
    while not stop.wait(1.0):
        try:
            rss = rss_mib(pid)
        except OSError:
            return  # the server is gone; the main thread reports it
        with tally.lock:
            served = tally.counts["complete"] + tally.counts["abandoned"]
            refused = tally.counts["503"] + tally.counts["429"]
        rows.append((round(time.monotonic() - start, 1), round(rss, 1), served, refused))


def idle_state(srv):
    return {"running": srv.metric("ragd_running_sequences") or 0, "waiting": srv.metric("ragd_queue_depth") or 0,
            "kv_used": srv.metric("ragd_kv_cache_blocks", state="used") or 0,
            "finished": srv.metric("ragd_requests_finished_total") or 0}


def wait_idle(srv, idle_kv, seconds=60):
    deadline = time.time() + seconds
    while True:
        state = idle_state(srv)
        if (state["running"] == 0 and state["waiting"] == 0 and state["kv_used"] == idle_kv) or time.time() > deadline:
            return state
        time.sleep(0.5)


def rss_leak(rows, seconds):
    """A message when resident memory kept growing, else None (runs under a minute: None)."""
    if seconds < 60 or len(rows) < 20:
        return None
    rss = [r[1] for r in rows]
    tenth = max(len(rss) // 10, 1)
    early, late = statistics.median(rss[tenth:2 * tenth]), statistics.median(rss[-tenth:])
    if late > early * RSS_GROWTH + RSS_SLACK_MIB:
        return f"resident memory grew from {early:.0f} MiB (early) to {late:.0f} MiB (end)"
    return None


def main():
    ragd, _repo, models = harness_args_from(sys.argv)
    opts = parse_options()
    tally, rows, stop = Tally(), [], threading.Event()
    clients = 2 * opts.max_concurrent
    # The batch takes half the admitted requests; the other half wait in a small queue.
    flags = ["--max-concurrent", str(opts.max_concurrent), "--max-batch-size", str(max(opts.max_concurrent // 2, 1)),
             "--queue-timeout", "60"]
    failures, end_rss = [], 0.0
    with Server(ragd, models, *flags, embedder=False) as srv:
        idle_kv = idle_state(srv)["kv_used"]
        start = time.monotonic()
        sampler = threading.Thread(target=sample_rss, args=(srv.proc.pid, stop, tally, rows, start))
        threads = [threading.Thread(target=client, args=(srv.port, i, stop, tally)) for i in range(clients)]
        sampler.start()
        for t in threads:
            t.start()
        stop.wait(opts.seconds)
        stop.set()
        for t in threads:
            t.join(timeout=180)
        sampler.join()
        if srv.proc.poll() is not None:
            failures.append(f"the server exited with {srv.proc.returncode}")
        else:
            state = wait_idle(srv, idle_kv)
            admitted = tally.counts["complete"] + tally.counts["abandoned"] + tally.counts["incomplete"]
            if state["running"] or state["waiting"]:
                failures.append(f"not idle after the clients stopped: {state}")
            if state["kv_used"] != idle_kv:
                failures.append(f"KV blocks in use: {state['kv_used']:.0f}, {idle_kv:.0f} when idle")
            if state["finished"] < admitted:
                failures.append(f"{admitted} requests admitted, {state['finished']:.0f} finished")
            end_rss = rss_mib(srv.proc.pid)
    summarize(opts, clients, tally, rows, end_rss)
    for key in ("other_status", "no_retry_after", "connection_error", "incomplete"):
        if tally.counts[key]:
            failures.append(f"{tally.counts[key]} {key.replace('_', ' ')}")
    if tally.counts["complete"] == 0:
        failures.append("no stream completed")
    if not tally.counts["503"] + tally.counts["429"]:
        failures.append("never over the admission bound: no 503/429 (the load was not 2x)")
    if leak := rss_leak(rows, opts.seconds):
        failures.append(leak)
    for example in tally.examples:
        print("  " + example)
    if failures:
        print("FAIL: " + "; ".join(failures))
        sys.exit(1)
    print("ok")


def harness_args_from(argv):
    # serve_harness.args() reads exactly RAGD_BINARY REPO_ROOT; the options follow them.
    saved = sys.argv
    sys.argv = argv[:3]
    try:
        return harness_args()
    finally:
        sys.argv = saved


def parse_options():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ragd")
    p.add_argument("repo")
    p.add_argument("--seconds", type=float, default=float(os.environ.get("RAGD_SOAK_SECONDS", 120)))
    p.add_argument("--max-concurrent", type=int, default=4, help="the server's admission bound (clients: twice it)")
    p.add_argument("--csv", default="overload_soak_rss.csv", help="where the RSS curve goes")
    return p.parse_args()


def summarize(opts, clients, tally, rows, end_rss):
    with open(opts.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seconds", "rss_mib", "streams_served", "refused"])
        w.writerows(rows)
    rss = [r[1] for r in rows] or [0.0]
    c = tally.counts
    print(f"overload soak: {opts.seconds:.0f} s, {clients} clients, --max-concurrent {opts.max_concurrent}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  200 complete {c['complete']}, abandoned {c['abandoned']}, 503 {c['503']}, 429 {c['429']}, "
          f"other status {c['other_status']}, missing Retry-After {c['no_retry_after']}, "
          f"connection errors {c['connection_error']}, incomplete {c['incomplete']}")
    print(f"  RSS MiB: min {min(rss):.1f}, max {max(rss):.1f}, end {end_rss:.1f} (after idle); curve: {opts.csv}")


if __name__ == "__main__":
    main()
