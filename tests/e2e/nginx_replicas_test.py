"""nginx (deploy/nginx/ragd.conf) in front of 3 `ragd serve` replicas, all on 127.0.0.1:
  - a request id on every response: the client's X-Request-Id when it is a plain token,
    else nginx's own; the same id in nginx's access log;
  - least-connections spreads concurrent completions over every replica (each replica's
    ragd_http_requests_total);
  - an event stream arrives through nginx as it is generated (first event long before the
    last, in many separate reads), uncompressed although the client accepts gzip;
  - kill -9 of one replica under a loop of non-streaming completions: no client sees an
    error (nginx retries on the others); the stream that was on the killed replica ends,
    truncated (no [DONE]) and promptly, while the streams on the others complete;
  - the replica restarted on its port gets requests again.
Skipped (77) when nginx or the fast model is missing; scripts/setup installs nginx."""
import http.client
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nginx_harness  # noqa: E402
import serve_harness  # noqa: E402
from serve_harness import LLM, check  # noqa: E402

ENDPOINT = "/v1/chat/completions"
# SmolLM2's end tokens (<|endoftext|> 0, <|im_end|> 2) banned: a stream runs to max_tokens.
NO_EOS = {"0": -100, "2": -100}


def get(url, headers=None, body=None, timeout=60):
    """(status, text, headers); status 0 when no HTTP answer came."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError) as e:
        return 0, repr(e), {}


def completion(base, max_tokens=8, request_id=None):
    body = {"model": LLM, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": max_tokens}
    return get(base + ENDPOINT, headers={"X-Request-Id": request_id} if request_id else None, body=body)


class Stream:
    """One streamed completion through nginx, read on its own thread: `events` holds
    (arrival time, payload) per data event; `outcome` is 'done' ([DONE] seen), 'truncated'
    (the connection ended without it) or 'timeout' (no byte for `stall` seconds: a hang)."""

    def __init__(self, port, request_id, max_tokens, stall=30):
        self.request_id, self.events, self.outcome = request_id, [], None
        self.started = time.time()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=stall)
        body = {"model": LLM, "stream": True, "max_tokens": max_tokens, "logit_bias": NO_EOS,
                "messages": [{"role": "user", "content": "Tell me a long story about a lighthouse."}]}
        # Accept-Encoding as the openai client (httpx) sends it: a proxy that compressed the
        # stream would hold events back until its compression buffers fill.
        self.conn.request("POST", ENDPOINT, json.dumps(body),
                          {"Content-Type": "application/json", "X-Request-Id": request_id,
                           "Accept-Encoding": "gzip, deflate"})
        self.response = self.conn.getresponse()
        check(self.response.status == 200, f"stream {request_id}: status {self.response.status}")
        check(self.response.getheader("Content-Encoding") is None,
              f"stream {request_id} compressed: {self.response.getheader('Content-Encoding')}")
        self.header_id = self.response.getheader("X-Request-Id")
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                line = self.response.readline()
                if not line:
                    self.outcome = "truncated"
                    break
                line = line.decode().strip()
                if line == "data: [DONE]":
                    self.outcome = "done"
                    break
                if line.startswith("data: "):
                    self.events.append((time.time(), json.loads(line[6:])))
                    self.first.set()
        except TimeoutError:
            self.outcome = "timeout"
        except (http.client.HTTPException, ConnectionError, OSError):
            self.outcome = "truncated"
        finally:
            self.ended = time.time()
            self.first.set()
            self.conn.close()


def upstream_of(nginx, request_id):
    """The replica address nginx's access log names for the request (its last try)."""
    for line in nginx.log_lines():
        if f"request_id={request_id} " in line:
            return re.search(r"upstream=(\S+(?:, \S+)*) upstream_status", line).group(1).split(", ")[-1]
    return None


def main():
    ragd, repo, models = serve_harness.args(embedder=False)
    nginx_bin = nginx_harness.binary()
    if not nginx_bin:
        print("skip: nginx is not installed (scripts/setup installs Debian's nginx)")
        sys.exit(serve_harness.SKIP)
    with open(os.path.join(repo, nginx_harness.CONF)) as f:
        conf = f.read()

    work = tempfile.TemporaryDirectory(prefix="ragd-replicas-")
    replicas = [nginx_harness.Replica(ragd, models, work.name) for _ in range(3)]
    try:
        for r in replicas:
            r.start()
        with nginx_harness.start(nginx_bin, conf, [f"127.0.0.1:{r.port}" for r in replicas]) as nginx:
            run_checks(nginx, replicas)
    except BaseException:
        for r in replicas:
            if r.log:
                print(f"--- replica {r.port} log (tail) ---\n{r.logs()}", file=sys.stderr)
        raise
    finally:
        for r in replicas:
            r.stop()
        work.cleanup()
    print("nginx replicas: all checks passed")


def run_checks(nginx, replicas):
    base = nginx.url

    # Request ids: nginx's own (32 hex digits) when the client sends none or an unsafe one;
    # the client's when it is a plain token. The access log carries the same id.
    status, _, headers = completion(base)
    check(status == 200, f"completion through nginx: status {status}")
    check(re.fullmatch(r"[0-9a-f]{32}", headers.get("X-Request-Id", "")), f"generated id: {dict(headers)}")
    status, _, headers = completion(base, request_id="client-id-42")
    check(status == 200 and headers.get("X-Request-Id") == "client-id-42", f"client id kept: {dict(headers)}")
    _, _, headers = get(base + "/health", headers={"X-Request-Id": "bad id\";x"})
    check(re.fullmatch(r"[0-9a-f]{32}", headers.get("X-Request-Id", "")), f"unsafe id replaced: {dict(headers)}")
    time.sleep(0.2)
    check(upstream_of(nginx, "client-id-42") in {f"127.0.0.1:{r.port}" for r in replicas},
          "access log names the request id and the replica:\n" + "\n".join(nginx.log_lines()[-5:]))
    # Errors nginx answers itself keep ragd's error shape (here: the body limit, 16 MiB).
    status, text, _ = get(base + ENDPOINT, body={"x": "y" * (17 << 20)})
    check(status == 413 and json.loads(text)["error"]["type"] == "invalid_request_error", f"413: {status} {text[:200]}")

    # least_conn: 6 clients at once, 36 completions: every replica answers a fair share.
    before = [r.answered(ENDPOINT) for r in replicas]
    errors = load(base, clients=6, count=36)
    check(not errors, f"errors through nginx: {errors[:3]}")
    got = [r.answered(ENDPOINT) - b for r, b in zip(replicas, before)]
    print(f"completions per replica for 36 requests from 6 clients: {got}")
    check(sum(got) == 36 and min(got) >= 6, f"requests not spread over the replicas: {got}")

    # Streams pass through unbuffered: events arrive over the generation, the first long
    # before the last.
    s = Stream(nginx.port, "stream-alone", max_tokens=120)
    s.thread.join(60)
    check(s.outcome == "done" and len(s.events) >= 50, f"stream: {s.outcome}, {len(s.events)} events")
    spread = s.events[-1][0] - s.events[0][0]
    first_after = s.events[0][0] - s.started
    print(f"stream through nginx: first event after {first_after:.3f} s, last {spread:.3f} s after the first")
    check(spread > 0.2 and first_after < spread, f"events arrived in one piece: first {first_after:.3f} s, spread {spread:.3f} s")
    distinct = len({round(t, 2) for t, _ in s.events})
    check(distinct >= 10, f"events arrived in {distinct} bursts, not as generated")

    # kill -9 under load. Three long streams first, one started after the previous has its
    # first event, so least_conn puts one on each replica; then non-streaming clients.
    streams = []
    for i in range(3):
        streams.append(Stream(nginx.port, f"long-{i}", max_tokens=600))
        check(streams[-1].first.wait(60) and streams[-1].events, f"stream long-{i}: no first event")
    victim = replicas[1]
    stop = threading.Event()
    errors, done = [], []
    clients = [threading.Thread(target=loop, args=(base, stop, errors, done)) for _ in range(4)]
    for c in clients:
        c.start()
    time.sleep(2)
    killed_at = time.time()
    victim.kill9()
    time.sleep(6)
    stop.set()
    for c in clients:
        c.join(120)
    for st in streams:
        st.thread.join(240)
    print(f"kill -9 under load: {len(done)} completions, {len(errors)} client errors")
    check(not errors, f"client errors after kill -9 of one replica: {errors[:3]}")
    check(len(done) >= 10, f"only {len(done)} completions during the kill test")
    retried = [line for line in nginx.log_lines() if re.search(r"upstream=\S+, ", line)]
    check(retried, "no request was retried on another replica (access log)")
    print(f"requests nginx retried on another replica: {len(retried)}")
    time.sleep(0.2)
    victim_addr = f"127.0.0.1:{victim.port}"
    placed = {st.request_id: upstream_of(nginx, st.request_id) for st in streams}
    check(len(set(placed.values())) == 3, f"streams not one per replica: {placed}")
    for st in streams:
        if placed[st.request_id] == victim_addr:
            check(st.outcome == "truncated", f"stream on the killed replica: {st.outcome}")
            check(st.ended - killed_at < 5, f"stream on the killed replica ended {st.ended - killed_at:.1f} s after the kill")
            print(f"stream on the killed replica: truncated after {len(st.events)} events, "
                  f"{st.ended - killed_at:.2f} s after the kill")
        else:
            check(st.outcome == "done", f"stream {st.request_id} on a live replica: {st.outcome}")

    # Restarted on its port, the replica gets requests again once nginx's fail_timeout
    # (10 s) has passed.
    victim.start()
    deadline = time.time() + 40
    while victim.answered(ENDPOINT) == 0:
        check(time.time() < deadline, "the restarted replica got no request within 40 s")
        status, text, _ = completion(base)
        check(status == 200, f"completion after restart: {status} {text[:200]}")
        time.sleep(0.1)
    print(f"restarted replica answered again {time.time() - killed_at:.1f} s after the kill")


def load(base, clients, count):
    errors, lock, left = [], threading.Lock(), [count]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            status, text, _ = completion(base)
            if status != 200:
                with lock:
                    errors.append((status, text[:200]))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def loop(base, stop, errors, done):
    while not stop.is_set():
        status, text, _ = completion(base)
        (done if status == 200 else errors).append((status, text[:200]))


if __name__ == "__main__":
    main()
