"""Admission control over HTTP: 429 for a user over its cap, 503 when the server is full
(both with Retry-After), a disconnected stream frees its slot, and /metrics passes
`promtool check metrics` and carries the documented series."""
import http.client
import json
import os
import shutil
import subprocess
import threading

from serve_harness import Server, args, check

# End-of-generation tokens banned, so admitted requests keep running until read.
NO_EOS = {"0": -100, "1": -100, "2": -100}


def open_stream(srv, user, max_tokens=400):
    """Starts a streamed chat; returns (status, connection, response)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    body = {"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": max_tokens,
            "stream": True, "user": user, "logit_bias": NO_EOS}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, conn, resp


def fire(srv, users):
    """Opens one stream per user concurrently; returns [(status, conn, resp)]."""
    results = [None] * len(users)

    def run(i):
        results[i] = open_stream(srv, users[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def close_all(results):
    for _, conn, _ in results:
        conn.close()


def wait_idle(srv, admitted):
    """Waits until `admitted` requests have finished (any reason). Gauges are not used: the
    scheduler publishes them once per step, so they can lag a request just admitted."""
    for _ in range(1200):
        if (srv.metric("ragd_requests_finished_total") or 0) >= admitted:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{admitted} requests did not finish:\n" + srv.metrics())


def main():
    ragd, _, models = args()
    with Server(ragd, models, "--max-concurrent", "2", "--max-per-user", "1", embedder=False) as srv:
        # One user, three streams: the cap of 1 answers the others 429.
        results = fire(srv, ["alice"] * 3)
        statuses = sorted(s for s, _, _ in results)
        check(statuses == [200, 429, 429], statuses)
        for s, _, resp in results:
            if s == 429:
                check(int(resp.getheader("Retry-After", "0")) >= 1, "429 without Retry-After")
                err = json.loads(resp.read())["error"]
                check(err["type"] == "rate_limit_error", err)
        close_all(results)
        wait_idle(srv, 1)

        # Four users: two fit under max-concurrent 2, the rest get 503 + Retry-After.
        results = fire(srv, ["u1", "u2", "u3", "u4"])
        statuses = sorted(s for s, _, _ in results)
        check(statuses == [200, 200, 503, 503], statuses)
        for s, _, resp in results:
            if s == 503:
                check(int(resp.getheader("Retry-After", "0")) >= 1, "503 without Retry-After")
        close_all(results)
        wait_idle(srv, 3)

        # A client that disconnects mid-stream: its sequence is cancelled, not run to the end.
        cancelled_before = srv.metric("ragd_requests_finished_total", reason="cancelled") or 0
        status, conn, resp = open_stream(srv, "bob", max_tokens=2000)
        check(status == 200, status)
        first = resp.readline()
        check(first.startswith(b"data: "), first)
        conn.close()
        wait_idle(srv, 4)
        cancelled = srv.metric("ragd_requests_finished_total", reason="cancelled") or 0
        check(cancelled == cancelled_before + 1, f"cancelled {cancelled_before} -> {cancelled}")
        generated = srv.metric("ragd_generated_tokens_total")
        check(generated is not None and generated < 2000, f"generated {generated} tokens for a closed stream")
        # The slot is free again.
        status, conn, resp = open_stream(srv, "bob", max_tokens=4)
        check(status == 200, status)
        resp.read()
        conn.close()

        text = srv.metrics()
        for name in ["ragd_http_requests_total", "ragd_request_duration_seconds_bucket",
                     "ragd_time_to_first_token_seconds_bucket", "ragd_inter_token_latency_seconds_bucket",
                     "ragd_generated_tokens_total", "ragd_queue_depth", "ragd_running_sequences",
                     "ragd_batch_size_bucket", "ragd_kv_cache_blocks", "ragd_cache_hit_ratio",
                     "ragd_prefix_cache_hit_tokens_total", "ragd_process_resident_memory_bytes",
                     "ragd_requests_rejected_total"]:
            check(name in text, f"{name} missing from /metrics")
        check('quantization="q4_1"' in text, "quantization label")
        promtool = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
            check(p.returncode == 0, "promtool: " + p.stdout + p.stderr)
        else:
            print("note: promtool not installed; exposition format not checked")
    print("ok")


if __name__ == "__main__":
    main()
