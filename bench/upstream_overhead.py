"""What serving a model through an upstream server adds per token (docs/scaling.md,
"Generation through an upstream server").

    .venv/bin/python bench/upstream_overhead.py build/bin/ragd . [--runs 20] [--max-tokens 64]

Starts one `ragd serve` with the fast model (the upstream) and a front `ragd serve` that
serves it as `up` (--model up=http://127.0.0.1:PORT/v1#ID). The same greedy streamed chat
completion (fixed prompt, max_tokens, ignoring nothing: the text must be identical) is sent
`runs` times directly to the upstream and `runs` times through the front, in pairs (order
alternating), one request at a time; the texts must be identical. Per request: time to the
first and to the last content chunk, the chunks and the completion tokens (usage). Printed:
medians direct and through the front, time to the last token per token, and the medians of
the paired differences (front minus direct), which cancel most of the drift of a shared
machine. Time to the last token is the honest per-token figure: the front may merge tokens
that arrive together into one chunk, which makes chunk-to-chunk gaps look shorter.
Needs the fast model.

With --fake-interval-ms MS the upstream is instead a fake server in this process that
streams max_tokens fixed pieces MS ms apart (no model): the difference is then ragd's own
cost per token, without the model's timing noise."""
import argparse
import http.client
import http.server
import threading
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from serve_harness import LLM, Server  # noqa: E402
from upstream_model_test import Upstream, free_port  # noqa: E402

PROMPT = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]


def stream_once(port, model, max_tokens):
    """(ttft s, s to the last token, text, content chunks, completion tokens) of one streamed
    greedy chat completion."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = {"model": model, "messages": PROMPT, "temperature": 0, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    res = conn.getresponse()
    if res.status != 200:
        raise RuntimeError(f"HTTP {res.status}: {res.read()[:300]!r}")
    times, text, tokens = [], "", 0
    for raw in res:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        j = json.loads(line[6:])
        if j.get("usage"):
            tokens = j["usage"]["completion_tokens"]
        for c in j.get("choices", []):
            piece = c.get("delta", {}).get("content")
            if piece:
                times.append(time.perf_counter())
                text += piece
    conn.close()
    if len(times) < 2 or tokens < 2:
        raise RuntimeError("fewer than 2 tokens")
    return times[0] - start, times[-1] - start, text, len(times), tokens


class FakeUpstream(http.server.ThreadingHTTPServer):
    """Streams `tokens` chat chunks `interval` s apart for any POST; GET answers a model list."""

    def __init__(self, tokens, interval):
        self.tokens, self.interval = tokens, interval
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class FakeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b'{"object":"list","data":[{"id":"fake"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        n, interval = self.server.tokens, self.server.interval

        def event(j):
            self.wfile.write(b"data: " + json.dumps(j).encode() + b"\n\n")
            self.wfile.flush()

        for i in range(n):
            if i:
                time.sleep(interval)
            event({"choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}]})
        event({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        event({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": n + 10}})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ragd")
    p.add_argument("repo")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--fake-interval-ms", type=float, default=0)
    a = p.parse_args()
    ragd = os.path.abspath(a.ragd)
    models = os.path.abspath(os.environ.get("RAGD_MODEL_DIR", os.path.join(a.repo, "models")))
    up = FakeUpstream(a.max_tokens, a.fake_interval_ms / 1e3) if a.fake_interval_ms else Upstream(ragd, models, free_port())
    upstream_model = "fake" if a.fake_interval_ms else LLM
    try:
        with Server(ragd, models, "--model", f"up=http://127.0.0.1:{up.port}/v1#{upstream_model}",
                    embedder=False) as front:
            for _ in range(3):  # warm both paths
                stream_once(up.port, upstream_model, a.max_tokens)
                stream_once(front.port, "up", a.max_tokens)
            rows = {"direct": [], "front": []}
            for k in range(a.runs):
                # Alternating order, so that neither path always runs second (after the other
                # left the prompt in the upstream's prefix cache, or on a warmer CPU).
                order = ("direct", "front") if k % 2 == 0 else ("front", "direct")
                got = {}
                for which in order:
                    got[which] = stream_once(up.port, upstream_model, a.max_tokens) if which == "direct" else \
                        stream_once(front.port, "up", a.max_tokens)
                if got["direct"][2] != got["front"][2]:
                    raise RuntimeError(f"texts differ:\n{got['direct'][2]!r}\n{got['front'][2]!r}")
                for which in rows:
                    rows[which].append(got[which])

            def q(values, p):
                v = sorted(values)
                return v[min(len(v) - 1, int(p * len(v)))]

            tokens = rows["direct"][0][4]
            print(f"{a.runs} pairs, {tokens} tokens each (max_tokens {a.max_tokens}), greedy, one request at a time")
            print(f"{'':14} {'TTFT ms':>8} {'last token ms':>14} {'ms/token':>9} {'chunks':>7}   (medians)")
            med = {}
            for which in ("direct", "front"):
                r = rows[which]
                med[which] = (statistics.median(x[0] for x in r) * 1e3, statistics.median(x[1] for x in r) * 1e3)
                print(f"{which:14} {med[which][0]:8.2f} {med[which][1]:14.1f} {med[which][1] / tokens:9.3f} "
                      f"{statistics.median(x[3] for x in r):7.0f}")
            # Paired: each front request against the direct one beside it (cancels drift).
            dttft = [(f[0] - d[0]) * 1e3 for d, f in zip(rows["direct"], rows["front"])]
            dlast = [(f[1] - d[1]) * 1e3 for d, f in zip(rows["direct"], rows["front"])]
            print(f"{'front-direct':14} {statistics.median(dttft):8.2f} {statistics.median(dlast):14.1f} "
                  f"{statistics.median(dlast) / tokens:9.3f}          (median of paired differences; "
                  f"last-token p25 {q(dlast, 0.25):.1f}, p75 {q(dlast, 0.75):.1f} ms)")
    finally:
        if a.fake_interval_ms:
            up.shutdown()
        else:
            up.close()


if __name__ == "__main__":
    main()
