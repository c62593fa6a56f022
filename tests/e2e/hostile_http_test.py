"""Hostile HTTP against `ragd serve` (issue 13): deeply nested JSON in every JSON input is a
400 naming the limit (it once overflowed the stack), wrong-typed fields are 400s without the
JSON library's text, a logit_bias banning every token is a 400, slow clients (slowloris
headers, a trickled body, a huge Content-Length) cannot starve normal requests, a busy port
is an error at start, /v1/batch runs on a bounded number of threads, and streamed requests
are counted with their real status. After each attack the server still answers normally."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from serve_harness import LLM, Server, args, check

DEPTH = 60000
DEEP = "[" * DEPTH + "]" * DEPTH  # ~120 KB
NEEDLE = "JSON nesting deeper than 64 levels"
VOCAB = 49152  # SmolLM2's vocabulary


def post_raw(srv, path, raw, content_type="application/json"):
    return srv.request("POST", path, raw=raw.encode() if isinstance(raw, str) else raw,
                       headers={"Content-Type": content_type})


def expect_error(got, status, needle, what):
    code, payload, _ = got
    check(code == status, f"{what}: expected {status}, got {code}: {str(payload)[:300]}")
    check(isinstance(payload, dict) and "error" in payload, f"{what}: not an error object: {str(payload)[:300]}")
    message = payload["error"]["message"]
    check(needle in message, f"{what}: '{needle}' not in '{message}'")
    for leak in ("json.exception", "type_error", "/tmp/", "SELECT ", "INSERT "):
        check(leak not in message, f"{what}: error leaks '{leak}': {message}")
    return payload


def still_serves(srv, what):
    check(srv.proc.poll() is None, f"server died after {what}")
    status, body, _ = srv.request("POST", "/v1/chat/completions",
                                  body={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    check(status == 200 and body["choices"], f"after {what}: normal chat answered {status}: {str(body)[:200]}")


def multipart(filename, content):
    boundary = "ragd-e2e-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n")
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def deep_json(srv, ragd, models):
    expect_error(post_raw(srv, "/v1/rag/query", '{"question": "why", "filters": ' + DEEP + "}"), 400, NEEDLE, "filters")
    doc = '{"documents": [{"id": "a", "text": "t", "metadata": ' + DEEP + "}]}"
    expect_error(post_raw(srv, "/v1/collections/deep/documents", doc), 400, NEEDLE, "metadata")
    expect_error(post_raw(srv, "/v1/collections/deep/documents?wait=false", doc), 400, NEEDLE, "metadata, wait=false")
    raw, ctype = multipart("deep.jsonl", '{"id": "a", "text": "t", "metadata": ' + DEEP + "}\n")
    expect_error(post_raw(srv, "/v1/collections/deep/documents", raw, ctype), 400, NEEDLE, "multipart JSONL")
    expect_error(post_raw(srv, "/v1/collections/deep/documents?wait=false", raw, ctype), 400, NEEDLE,
                 "multipart JSONL, wait=false")
    batch = '{"requests": [{"type": "chat", "body": {"messages": ' + DEEP + "}}]}"
    expect_error(post_raw(srv, "/v1/batch", batch), 400, NEEDLE, "batch")
    expect_error(post_raw(srv, "/v1/chat/completions", '{"messages": ' + DEEP + "}"), 400, NEEDLE, "chat")
    still_serves(srv, "deeply nested JSON")

    # The same record through `ragd ingest`: a per-line error, no crash; the good line is kept.
    with tempfile.TemporaryDirectory(prefix="ragd-e2e-deep-") as tmp:
        path = os.path.join(tmp, "deep.jsonl")
        with open(path, "w") as f:
            f.write('{"id": "bad", "text": "t", "metadata": ' + DEEP + "}\n")
            f.write('{"id": "good", "text": "a perfectly normal document"}\n')
        run = subprocess.run([ragd, "ingest", path, "--db", os.path.join(tmp, "db"), "-q"], capture_output=True,
                             text=True, timeout=120, env={**os.environ, "RAGD_MODEL_DIR": models})
        out = run.stdout + run.stderr
        check(run.returncode in (0, 1), f"ragd ingest exited {run.returncode}: {out[-500:]}")
        check(NEEDLE in out and "deep.jsonl:1" in out, f"ragd ingest: no per-line error: {out[-500:]}")


def wrong_types(srv):
    expect_error(srv.request("POST", "/v1/cache", body={"action": 5}), 400, "'action' must be a string", "cache action")
    expect_error(srv.request("POST", "/v1/collections", body={"name": "c", "fts_tokenizer": 7}), 400,
                 "'fts_tokenizer' must be a string", "collection tokenizer")
    status, body, _ = srv.request("POST", "/v1/batch", body={"requests": [{"type": 5, "body": {}}]})
    check(status == 200 and body["results"][0]["status"] == 400, f"batch item type: {status} {str(body)[:300]}")
    check("'type' must be a string" in body["results"][0]["error"]["message"], body)
    # Upload errors name the file, never the server's temporary copy.
    raw, ctype = multipart("notes.jsonl", '{"id": "x"}\n')
    payload = expect_error(post_raw(srv, "/v1/collections/typed/documents", raw, ctype), 400, "notes.jsonl",
                           "bad JSONL record")
    check("line 1" in payload["error"]["message"], payload)
    # A logit_bias that bans the whole vocabulary leaves nothing to sample.
    bias = {str(i): -100 for i in range(VOCAB)}
    expect_error(srv.request("POST", "/v1/chat/completions",
                             body={"messages": [{"role": "user", "content": "Hi"}], "logit_bias": bias}),
                 400, "logit_bias leaves no token that can be sampled", "logit_bias")
    still_serves(srv, "wrong-typed fields")


def raw_socket(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(s, limit):
    """(bytes received, seconds until the server closed) or (bytes, None) if it never did."""
    start, data = time.time(), b""
    s.settimeout(0.5)
    while time.time() - start < limit:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionError:
            return data, time.time() - start
        if not chunk:
            return data, time.time() - start
        data += chunk
    return data, None


def slow_clients(srv):
    # Slowloris: 150 connections sending a request line byte by byte.
    stop = threading.Event()
    sockets = [raw_socket(srv.port) for _ in range(150)]
    line = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000

    def trickle():
        for i in range(len(line)):
            for s in sockets:
                try:
                    s.send(line[i:i + 1])
                except OSError:
                    pass
            if stop.wait(0.5):
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    time.sleep(1.0)
    for path in ("/health", "/v1/models", "/health"):
        start = time.time()
        status, _, _ = srv.request("GET", path, timeout=10)
        took = time.time() - start
        # Starved, it would not answer at all (before the fix: 0 of 2 in 15 s).
        check(status == 200 and took < 5, f"{path} under slowloris: status {status} after {took:.1f} s")

    # A Content-Length of 10^12 is refused before any of the body is read.
    s = raw_socket(srv.port)
    start = time.time()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000000000000\r\n\r\n")
    s.settimeout(5)
    head = s.recv(4096)
    took = time.time() - start
    # Before the fix the 413 came after the whole (never sent) body timed out: ~65 s.
    check(head.startswith(b"HTTP/1.1 413") and took < 5, f"huge Content-Length: {head[:80]!r} after {took:.1f} s")
    s.close()

    # A body trickled after its headers is cut at the read timeout (10 s by default).
    s = raw_socket(srv.port)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"mess")
    data, closed_after = read_until_closed(s, 20)
    check(closed_after is not None and closed_after < 15, f"trickled body: not closed ({closed_after})")
    check(data.startswith(b"HTTP/1.1 408"), f"trickled body: {data[:80]!r}")
    print(f"trickled body closed after {closed_after:.1f} s; 413 for Content-Length 10^12 after {took:.2f} s")
    s.close()

    stop.set()
    thread.join()
    for s in sockets:
        s.close()
    still_serves(srv, "slow clients")


def busy_port(srv, ragd, models):
    with tempfile.TemporaryDirectory(prefix="ragd-e2e-port-") as tmp:
        run = subprocess.run([ragd, "serve", "--port", str(srv.port), "--db", os.path.join(tmp, "db"),
                              "--model", os.path.join(models, LLM + ".gguf")],
                             capture_output=True, text=True, timeout=60, cwd=tmp)
    out = run.stdout + run.stderr
    check(run.returncode != 0, f"a second server on busy port {srv.port} started: {out[-300:]}")
    check(f"cannot listen on 127.0.0.1:{srv.port}" in out, f"busy port: unclear message: {out[-300:]}")
    still_serves(srv, "a second server on the same port")


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def bounded_batch(srv):
    item = {"type": "completion", "body": {"prompt": "Hi", "max_tokens": 1}}
    baseline = threads_of(srv.proc.pid)
    peak, results, done = baseline, [], threading.Event()

    def one_batch():
        results.append(srv.request("POST", "/v1/batch", body={"requests": [item] * 24}, timeout=120))

    batches = [threading.Thread(target=one_batch) for _ in range(3)]
    for t in batches:
        t.start()
    while any(t.is_alive() for t in batches):
        peak = max(peak, threads_of(srv.proc.pid))
        time.sleep(0.02)
    for t in batches:
        t.join()
    for status, body, _ in results:
        check(status == 200 and all(r["status"] == 200 for r in body["results"]), f"batch: {status} {str(body)[:300]}")
    # A thread per item would add 72; the shared pool adds at most its 32 threads.
    check(peak - baseline <= 40, f"/v1/batch grew the server from {baseline} to {peak} threads")
    print(f"3 concurrent 24-item batches: threads {baseline} -> peak {peak}")


def streamed_metrics(srv):
    key = dict(endpoint="/v1/chat/completions", status="200")
    before = srv.metric("ragd_http_requests_total", **key) or 0
    req = urllib.request.Request(srv.url + "/v1/chat/completions", method="POST",
                                 data=json.dumps({"messages": [{"role": "user", "content": "Hi"}],
                                                  "max_tokens": 4, "stream": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read().decode()
    check("data: [DONE]" in text, f"stream did not finish: {text[-200:]}")
    deadline = time.time() + 5
    while (srv.metric("ragd_http_requests_total", **key) or 0) < before + 1 and time.time() < deadline:
        time.sleep(0.05)
    check((srv.metric("ragd_http_requests_total", **key) or 0) == before + 1, "stream not counted as 200")
    check('status="-1"' not in srv.metrics(), "a request is still counted with status -1")


def main():
    ragd, _, models = args()
    started = time.time()
    with Server(ragd, models, embedder=False) as srv:
        deep_json(srv, ragd, models)
        wrong_types(srv)
        streamed_metrics(srv)
        bounded_batch(srv)
        slow_clients(srv)
        busy_port(srv, ragd, models)
    print(f"ok ({time.time() - started:.1f} s)")


if __name__ == "__main__":
    main()
