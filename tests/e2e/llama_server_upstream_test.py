"""llama.cpp's llama-server as an upstream (docs/scaling.md, 'Generation through an upstream
server'): a front ragd serves it as `up` (--model up=http://127.0.0.1:PORT/v1#smol).

llama-server is not a dependency of ragd and is not in Debian's bookworm packages, so this test
runs only where one was built outside the repository: $RAGD_LLAMA_SERVER names the binary (or
`llama-server` on the PATH); otherwise it is skipped (77).

Checks: greedy chat and completions through the front, streamed and not, equal llama-server's
own output for the same request; a RAG answer whose generation comes from llama-server cites
existing sources; a field ragd cannot forward is refused by name; llama-server killed: the
front answers a clean 5xx error in OpenAI's shape (nothing hangs, the front keeps serving its
local model) and /metrics shows the upstream down."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import LLM, SKIP, Server, args, check, free_port, stop_process, wait_until_ready  # noqa: E402
from upstream_model_test import DOCS, MESSAGES, curl_stream, streamed_text, wait_for  # noqa: E402

ALIAS = "smol"


class LlamaServer:
    def __init__(self, binary, model):
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-llama-server-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.tmp.name, "llama-server.log")
        # One slot and no prompt cache: each request is computed the same way from scratch,
        # so two identical greedy requests give identical text. --no-repack: llama.cpp's
        # repacked weight path died with SIGILL on a KVM Sapphire Rapids guest; the plain path
        # is what ragd's goldens were written with too. $RAGD_LLAMA_SERVER_ARGS adds flags.
        self.proc = subprocess.Popen(
            [binary, "-m", model, "--host", "127.0.0.1", "--port", str(self.port), "-a", ALIAS, "-t", "1",
             "-np", "1", "-c", "2048", "--no-cache-prompt", "--no-repack",
             *os.environ.get("RAGD_LLAMA_SERVER_ARGS", "").split()],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        if not wait_until_ready(self.url, self.proc, path="/health"):
            raise RuntimeError("llama-server did not start: " + self.logs())

    def logs(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read().decode())

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self):
        stop_process(self.proc)
        self.tmp.cleanup()


def main():
    ragd, _, models = args()
    binary = os.environ.get("RAGD_LLAMA_SERVER") or shutil.which("llama-server")
    if not binary or not os.access(binary, os.X_OK):
        print("skip: no llama-server (set RAGD_LLAMA_SERVER to one built outside the repository)")
        sys.exit(SKIP)
    llama = LlamaServer(binary, os.path.join(models, LLM + ".gguf"))
    try:
        url = f"{llama.url}/v1"
        flags = ["--model", f"up={url}#{ALIAS}", "--upstream-probe-interval", "0.5", "--upstream-backoff", "0.5"]
        with Server(ragd, models, *flags) as front:
            chat = {"messages": MESSAGES, "temperature": 0, "max_tokens": 24}
            direct = llama.post("/v1/chat/completions", dict(chat, model=ALIAS))
            want = direct["choices"][0]["message"]["content"]
            check(want, direct)
            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
            check(status == 200, (status, body))
            check(body["model"] == "up" and body["choices"][0]["message"]["content"] == want, (body, want))
            check(body["usage"]["completion_tokens"] == direct["usage"]["completion_tokens"], (body, direct))
            got = streamed_text(curl_stream(front.url + "/v1/chat/completions", dict(chat, model="up", stream=True)),
                                "delta")
            check(got == want, (got, want))

            comp = {"prompt": "Once upon a time", "temperature": 0, "max_tokens": 16}
            want_c = llama.post("/v1/completions", dict(comp, model=ALIAS))["choices"][0]["text"]
            status, body, _ = front.request("POST", "/v1/completions", dict(comp, model="up"))
            check(status == 200 and body["choices"][0]["text"] == want_c, (status, body, want_c))
            got = streamed_text(curl_stream(front.url + "/v1/completions", dict(comp, model="up", stream=True)), "text")
            check(got == want_c, (got, want_c))

            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up", grammar='root ::= "y"'))
            check(status == 400 and body["error"]["param"] == "grammar", (status, body))

            # RAG: retrieval, prompt and citations in ragd, the tokens from llama-server.
            status, body, _ = front.request("POST", "/v1/collections", {"name": "docs"})
            check(status == 201, body)
            status, body, _ = front.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
            check(status == 200, body)
            question = {"question": "Which volcano in Sicily is active?", "collection": "docs", "top_k": 2,
                        "max_tokens": 48, "temperature": 0, "model": "up"}
            status, remote, _ = front.request("POST", "/v1/rag/query", question)
            check(status == 200 and remote["model"] == "up" and remote["answer"].strip(), remote)
            check(remote["sources"][0]["id"] == "volcano", remote["sources"])
            # Citations name only sources that exist (the model may or may not have cited).
            numbers = {s["number"] for s in remote["sources"]} if remote["sources"] and "number" in remote["sources"][0] \
                else set(range(1, len(remote["sources"]) + 1))
            check(all(c["number"] in numbers and c["id"] in {d["id"] for d in DOCS} for c in remote["citations"]),
                  (remote["citations"], remote["sources"]))
            print("rag through llama-server:", remote["answer"], [c["number"] for c in remote["citations"]])

            # llama-server gone: a clean error from the front, which still serves its own model.
            llama.kill9()
            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model="up"))
            check(status in (502, 503, 504) and "error" in body and body["error"]["message"], (status, body))
            wait_for(lambda: front.metric("ragd_upstream_up", model="up", upstream=url) == 0, 10, "down in /metrics")
            status, body, _ = front.request("POST", "/v1/chat/completions", dict(chat, model=LLM))
            check(status == 200 and body["choices"][0]["message"]["content"], (status, body))
    finally:
        llama.close()
    print("ok")


if __name__ == "__main__":
    main()
