"""A model served by upstream OpenAI-compatible servers (docs/scaling.md, 'Generation
through an upstream server'): two `ragd serve` upstreams run the fast model; a front ragd
serves it as `up` (--model up=http://127.0.0.1:PORT/v1#ID, twice) beside its own local copy.

Checks: greedy chat and completions through the front, streamed and not, equal the
upstream's own output; a RAG answer through the upstream equals the front's local answer
(citations included); fields that cannot be forwarded are refused by name; kill -9 of one
upstream: requests still succeed (retried on the other), /metrics and /v1/models show it
out; restarted on its port, it comes back into rotation and takes requests again."""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request

from serve_harness import EMBEDDER, LLM, Server, args, check, free_port, stop_process, wait_until_ready

DOCS = [
    {"id": "volcano", "title": "Volcanoes",
     "text": "A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape. "
             "Mount Etna in Sicily is one of the most active volcanoes in Europe."},
    {"id": "tea", "title": "Green tea",
     "text": "Green tea is made from the leaves of Camellia sinensis that have not been oxidised. "
             "It originated in China and is popular across East Asia."},
]
MESSAGES = [{"role": "user", "content": "Name three colours of the rainbow."}]


class Upstream:
    """A plain `ragd serve` with the fast model on a fixed port (so it can be restarted there)."""

    def __init__(self, ragd, models, port):
        self.ragd, self.models, self.port = ragd, models, port
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-upstream-")
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        self.start()

    def start(self):
        log = open(os.path.join(self.tmp.name, "server.log"), "a")
        env = {k: v for k, v in os.environ.items() if k not in ("RAGD_MODEL_DIR", "RAGD_DATA_DIR")}
        self.proc = subprocess.Popen(
            [self.ragd, "serve", "--port", str(self.port), "--db", os.path.join(self.tmp.name, "db"),
             "--model", os.path.join(self.models, LLM + ".gguf"), "--warmup", "--threads", "1"],
            stdout=subprocess.DEVNULL, stderr=log, cwd=self.tmp.name, env=env)
        if not wait_until_ready(self.url, self.proc):
            raise RuntimeError(f"upstream on {self.port} not ready: {self.logs()}")

    def logs(self):
        with open(os.path.join(self.tmp.name, "server.log")) as f:
            return f.read()[-3000:]

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read().decode()

    def close(self):
        if self.proc:
            stop_process(self.proc)
        self.tmp.cleanup()


def streamed_text(raw, field):
    """The concatenated choice text of an SSE body; also checks it ends with [DONE] and no error."""
    text, done = "", False
    for line in raw.splitlines():
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            done = True
            continue
        j = json.loads(data)
        check("error" not in j, j)
        for c in j.get("choices", []):
            piece = c["delta"].get("content") if field == "delta" else c.get("text")
            text += piece or ""
    check(done, "stream did not end with [DONE]: " + raw[-300:])
    return text


def curl_stream(url, body):
    return subprocess.run(["curl", "-sS", "-N", "-X", "POST", url, "-H", "Content-Type: application/json",
                           "-d", json.dumps(body)], capture_output=True, text=True, timeout=120, check=True).stdout


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def main():
    ragd, _, models = args()
    ports = [free_port(), free_port()]
    ups = []
    try:
        ups = [Upstream(ragd, models, p) for p in ports]
        urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
        flags = []
        for u in urls:
            flags += ["--model", f"up={u}#{LLM}"]
        flags += ["--upstream-probe-interval", "0.5", "--upstream-backoff", "0.5"]
        with Server(ragd, models, *flags) as front:
            chat = {"messages": MESSAGES, "temperature": 0, "max_tokens": 24}
            direct = json.loads(ups[0].post("/v1/chat/completions", dict(chat, model=LLM)))
            want = direct["choices"][0]["message"]["content"]
            check(want, direct)

            # Non-streamed and streamed through the front: the upstream's greedy text.
            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
            check(status == 200, (status, body))
            check(body["model"] == "up" and body["choices"][0]["message"]["content"] == want, (body, want))
            check(body["usage"]["prompt_tokens"] == direct["usage"]["prompt_tokens"], body["usage"])
            got = streamed_text(curl_stream(front.url + "/v1/chat/completions", dict(chat, model="up", stream=True)),
                                "delta")
            check(got == want, (got, want))

            comp = {"prompt": "Once upon a time", "temperature": 0, "max_tokens": 16}
            want_c = json.loads(ups[1].post("/v1/completions", dict(comp, model=LLM)))["choices"][0]["text"]
            status, body, _ = front.request("POST", "/v1/completions", dict(comp, model="up"))
            check(status == 200 and body["choices"][0]["text"] == want_c, (status, body, want_c))
            got = streamed_text(curl_stream(front.url + "/v1/completions", dict(comp, model="up", stream=True)), "text")
            check(got == want_c, (got, want_c))

            # n choices: one upstream request each.
            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up", n=2))
            check(status == 200 and [c["message"]["content"] for c in body["choices"]] == [want, want], body)

            # What ragd cannot forward is refused by name.
            for field, value in (("logprobs", True), ("response_format", {"type": "json_object"}),
                                 ("grammar", 'root ::= "yes"'), ("logit_bias", {"5": -100}), ("priority", 0)):
                status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up", **{field: value}))
                check(status == 400 and field in body["error"]["message"] and body["error"]["param"] == field,
                      (field, status, body))
            status, body, _ = front.request("POST", "/api/chat", {"model": "up", "messages": MESSAGES})
            check(status == 400 and "upstream" in json.dumps(body), (status, body))

            # RAG: retrieval, prompt and citations in the front; the answer from the upstream,
            # the same as the front's own copy of the model gives.
            status, body, _ = front.request("POST", "/v1/collections", {"name": "docs"})
            check(status == 201, body)
            status, body, _ = front.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
            check(status == 200, body)
            question = {"question": "Which volcano in Sicily is active?", "collection": "docs", "top_k": 2,
                        "max_tokens": 48, "temperature": 0}
            status, local, _ = front.request("POST", "/v1/rag/query", dict(question, model=LLM))
            check(status == 200, local)
            status, remote, _ = front.request("POST", "/v1/rag/query", dict(question, model="up"))
            check(status == 200 and remote["model"] == "up", remote)
            check(remote["sources"][0]["id"] == "volcano", remote["sources"])
            check(remote["answer"] == local["answer"] and remote["citations"] == local["citations"], (remote, local))
            check(remote["answer"] and remote["citations"], ("no cited answer", remote))
            print("rag through upstream:", remote["answer"], remote["citations"])
            # RAG chat (an OpenAI chat with `collection`), streamed: as the local model streams it.
            rag_chat = {"collection": "docs", "stream": True, "temperature": 0, "max_tokens": 48,
                        "messages": [{"role": "user", "content": question["question"]}], "rag": {"top_k": 2}}
            want_rag = streamed_text(curl_stream(front.url + "/v1/chat/completions", dict(rag_chat, model=LLM)), "delta")
            got = streamed_text(curl_stream(front.url + "/v1/chat/completions", dict(rag_chat, model="up")), "delta")
            check(got.strip() and got == want_rag, (got, want_rag))

            # Failover: kill -9 one upstream; every request still succeeds.
            check(front.metric("ragd_upstream_up", model="up", upstream=urls[1]) == 1, front.metrics())
            ups[1].kill9()
            for _ in range(6):
                status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
                check(status == 200 and body["choices"][0]["message"]["content"] == want, (status, body))
            wait_for(lambda: front.metric("ragd_upstream_up", model="up", upstream=urls[1]) == 0, 10, "down in /metrics")
            check(front.metric("ragd_upstream_failures_total", model="up", upstream=urls[1]) >= 1, front.metrics())
            status, body, _ = front.request("GET", "/v1/models/up")
            state = {u["url"]: u for u in body["ragd"]["upstreams"]}
            check(state[urls[1]]["up"] is False and state[urls[1]]["last_error"], body)
            check(state[urls[0]]["up"] is True, body)
            # Streams too: they start on the live upstream.
            got = streamed_text(curl_stream(front.url + "/v1/chat/completions", dict(chat, model="up", stream=True)),
                                "delta")
            check(got == want, (got, want))

            # Restarted on its port: back after a successful probe, and it takes requests again.
            ups[1].start()
            wait_for(lambda: front.metric("ragd_upstream_up", model="up", upstream=urls[1]) == 1, 60, "back in /metrics")
            before = front.metric("ragd_upstream_requests_total", model="up", upstream=urls[1])
            for _ in range(4):
                status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
                check(status == 200 and body["choices"][0]["message"]["content"] == want, (status, body))
            after = front.metric("ragd_upstream_requests_total", model="up", upstream=urls[1])
            check(after > before, (before, after))

            # Every upstream down: 503 with Retry-After, not a hang or a 500.
            for u in ups:
                u.kill9()
            status, body, headers = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
            check(status == 503 and "Retry-After" in headers, (status, body, headers))
    finally:
        for u in ups:
            u.close()
    print("upstream model: ok")


if __name__ == "__main__":
    main()
