"""Ollama's API through the official `ollama` Python client: chat (streamed and not),
generate, embed and the older embeddings, tags, show, ps, version (raw HTTP: the client has
no call for it), pull of an installed model, and errors in Ollama's shape for an unknown
model and for a field ragd does not implement."""
import http.client
import json
import math
import sys
import time
import urllib.request

from serve_harness import EMBEDDER, LLM, SKIP, Server, args, check

try:
    import ollama
except ImportError:
    print("skip: the ollama package is not installed (pip install -r tests/requirements.txt)")
    sys.exit(SKIP)

HELLO = [{"role": "user", "content": "Say hello."}]
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def check_final(r, limit):
    """The last object of a generation: done, its reason, counts and durations (ns)."""
    check(r.done is True and r.done_reason in ("stop", "length"), r)
    check(r.prompt_eval_count > 0 and 0 < r.eval_count <= limit, r)
    check(all(isinstance(getattr(r, d), int) and getattr(r, d) >= 0 for d in DURATIONS), r)
    check(r.total_duration >= r.eval_duration, r)


def expect_error(call, status, *needles):
    try:
        call()
    except ollama.ResponseError as e:
        check(e.status_code == status and all(n in e.error for n in needles), (e.status_code, e.error))
        return
    check(False, f"expected a {status} error mentioning {needles}")


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        client = ollama.Client(host=srv.url)

        r = client.chat(model=LLM, messages=HELLO, options={"num_predict": 8, "temperature": 0})
        check(r.model == LLM and r.message.role == "assistant" and r.message.content, r)
        check_final(r, 8)
        # Streamed (NDJSON): text pieces, then one final object; together the same greedy text.
        parts = list(client.chat(model=LLM, messages=HELLO, stream=True, options={"num_predict": 8, "temperature": 0}))
        check(all(not p.done for p in parts[:-1]) and parts[-1].done, [p.done for p in parts])
        check_final(parts[-1], 8)
        check("".join(p.message.content for p in parts) == r.message.content, (parts, r.message.content))
        # A ":latest" tag names the same model, as Ollama clients send it.
        check(client.chat(model=LLM + ":latest", messages=HELLO, options={"num_predict": 2}).done, "tagged name")
        # num_ctx bounds prompt + generated tokens.
        short = client.chat(model=LLM, messages=HELLO, options={"num_ctx": r.prompt_eval_count + 2, "num_predict": 50})
        check(short.eval_count <= 2 and short.done_reason == "length", short)

        g = client.generate(model=LLM, prompt="Once upon a time", options={"num_predict": 6, "temperature": 0,
                                                                          "stop": ["\n\n"]})
        check(isinstance(g.response, str) and g.response, g)
        check_final(g, 6)
        raw = client.generate(model=LLM, prompt="Once upon a time", raw=True, options={"num_predict": 4})
        check(raw.done and raw.prompt_eval_count < g.prompt_eval_count, (raw, g))  # no chat template
        streamed = list(client.generate(model=LLM, prompt="Count: 1, 2,", stream=True, options={"num_predict": 5}))
        check(streamed[-1].done and any(p.response for p in streamed), streamed)
        loaded = client.generate(model=LLM)  # no prompt: only load the model
        check(loaded.done and loaded.done_reason == "load", loaded)

        e = client.embed(model=EMBEDDER, input=["hello world", "the cat sat"])
        check(len(e.embeddings) == 2 and len(e.embeddings[0]) == 384, len(e.embeddings))
        check(abs(math.sqrt(sum(x * x for x in e.embeddings[0])) - 1) < 1e-3, "unit length")
        check(e.prompt_eval_count > 0, e)
        old = client.embeddings(model=EMBEDDER, prompt="hello world")
        check(max(abs(a - b) for a, b in zip(old.embedding, e.embeddings[0])) < 1e-5, "embed and embeddings differ")

        names = [m.model for m in client.list().models]
        check(LLM in names and EMBEDDER in names, names)
        entry = next(m for m in client.list().models if m.model == LLM)
        check(entry.size > 0 and entry.details.format == "gguf" and entry.details.family == "llama", entry)
        show = client.show(LLM)
        check("completion" in show.capabilities and show.template and show.modelinfo["general.architecture"] == "llama",
              show.capabilities)
        check(show.details.quantization_level == "Q4_1" and show.details.parameter_size.endswith("M"), show.details)
        check(client.show(EMBEDDER).capabilities == ["embedding"], "embedder capabilities")
        running = [m.model for m in client.ps().models]
        check(LLM in running and EMBEDDER in running, running)
        check(all(m.expires_at is not None for m in client.ps().models), "expires_at")
        with urllib.request.urlopen(srv.url + "/api/version") as v:
            check(json.load(v)["version"], "version")
        check(client.pull(LLM).status == "success", "pull of an installed model")
        check([p.status for p in client.pull(LLM, stream=True)] == ["success"], "streamed pull")

        # keep_alive as a duration sets how long the model stays loaded once idle.
        client.chat(model=LLM, messages=HELLO, keep_alive="10m", options={"num_predict": 1})
        _, listing, _ = srv.request("GET", "/v1/models/" + LLM)
        check(listing["ragd"]["keep_alive_seconds"] == 600, listing)

        # A client that leaves mid-stream: its request is cancelled, not generated to the end.
        before = srv.metric("ragd_requests_finished_total", reason="cancelled") or 0
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request("POST", "/api/chat", json.dumps({"model": LLM, "options": {"num_predict": 2000},
                                                      "messages": [{"role": "user", "content": "Tell a long story."}]}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        check(resp.status == 200 and resp.getheader("Content-Type") == "application/x-ndjson", resp.status)
        check(json.loads(resp.readline())["done"] is False, "first NDJSON line")
        conn.close()
        deadline = time.time() + 20
        while (srv.metric("ragd_requests_finished_total", reason="cancelled") or 0) == before and time.time() < deadline:
            time.sleep(0.1)
        check((srv.metric("ragd_requests_finished_total", reason="cancelled") or 0) == before + 1, "not cancelled")

        # keep_alive 0 unloads the model once the request is done.
        client.embed(model=EMBEDDER, input="bye", keep_alive=0)
        check(EMBEDDER not in [m.model for m in client.ps().models], "keep_alive 0 did not unload")

        # Errors: Ollama's {"error": "..."} shape, naming the model or the refused field.
        expect_error(lambda: client.chat(model="no-such-model", messages=HELLO), 404, "no-such-model")
        expect_error(lambda: client.show("no-such-model"), 404, "no-such-model")
        expect_error(lambda: client.chat(model=LLM, messages=HELLO, format={"type": "object", "not": {}}), 400,
                     "'format'", "'not' is not supported")
        check_structured_output(client)
        tool = {"type": "function", "function": {"name": "now", "description": "time", "parameters": {"type": "object"}}}
        expect_error(lambda: client.chat(model=LLM, messages=HELLO, tools=[tool]), 400, "'tools'")
        expect_error(lambda: client.chat(model=LLM, messages=HELLO, options={"mirostat": 2}), 400, "'mirostat'")
        expect_error(lambda: client.embed(model=EMBEDDER, input="x", dimensions=8), 400, "'dimensions'")
        expect_error(lambda: client.pull("no-such-model"), 404, "catalog")
        status, body, _ = srv.request("POST", "/api/chat", {"model": LLM, "messages": HELLO, "keep_alive": "soon"})
        check(status == 400 and "keep_alive" in body["error"], (status, body))
    print("ok")


def check_structured_output(client):
    """format="json" gives one JSON object; a schema gives JSON that satisfies it (property
    order, required keys, enum, integer), in chat and generate, streamed and not."""
    r = client.chat(model=LLM, messages=[{"role": "user", "content": "Tom is 30. Give his name and age as JSON."}],
                    format="json", options={"num_predict": 100, "temperature": 0})
    if r.done_reason == "stop":
        check(isinstance(json.loads(r.message.content), dict), r.message.content)
    else:
        check(r.message.content.startswith("{"), r.message.content)
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                               "size": {"enum": ["small", "large"]}, "population": {"type": "integer"}},
              "required": ["city", "size", "population"]}
    for stream in (False, True):
        g = client.generate(model=LLM, prompt="Describe Paris as JSON.", format=schema, stream=stream,
                            options={"num_predict": 100, "temperature": 0.8, "seed": 5})
        text = "".join(p.response for p in g) if stream else g.response
        value = json.loads(text)
        check(list(value) == ["city", "size", "population"] and value["size"] in ("small", "large")
              and isinstance(value["population"], int) and len(value["city"]) <= 20, value)


if __name__ == "__main__":
    main()
