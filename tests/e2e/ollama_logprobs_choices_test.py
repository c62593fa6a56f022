"""Ollama `logprobs` / `top_logprobs` on /api/chat and /api/generate (raw HTTP, NDJSON
streams, and the `ollama` Python package when installed), /api/show's template for a
template-less Gemma file, and OpenAI `n` choices sharing their prompt's KV: the prompt is
computed once (ragd_prefill_tokens_total / ragd_shared_prompt_tokens_total), greedy choices
are identical, and no KV block stays in use after a request, cancelled mid-stream or not."""
import http.client
import json
import os
import sys
import time

from serve_harness import LLM, Server, args, check

GEMMA = "Gemma-3-270M.Q4_K_M"
HELLO = [{"role": "user", "content": "Write one sentence about the sea."}]


def check_entries(entries, top_n, greedy):
    for e in entries:
        check(set(e) == {"token", "logprob", "bytes", "top_logprobs"}, e)
        check(isinstance(e["token"], str) and e["logprob"] <= 0, e)
        check(bytes(e["bytes"]).decode("utf-8", errors="replace") == e["token"], e)
        top = e["top_logprobs"]
        check(len(top) == top_n, (top_n, top))
        lps = [t["logprob"] for t in top]
        check(all(x <= 0 for x in lps) and lps == sorted(lps, reverse=True), lps)
        if greedy and top_n:
            check((top[0]["token"], top[0]["logprob"]) == (e["token"], e["logprob"]), e)


def spelled(entries):
    return b"".join(bytes(e["bytes"]) for e in entries).decode("utf-8", errors="replace")


def ndjson(srv, path, body):
    """The objects of a streamed Ollama response."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    check(resp.status == 200 and resp.getheader("Content-Type") == "application/x-ndjson", resp.status)
    objects = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    conn.close()
    return objects


def ollama_logprobs(srv):
    opts = {"num_predict": 12, "temperature": 0}
    status, r, _ = srv.request("POST", "/api/chat", {"model": LLM, "messages": HELLO, "stream": False,
                                                     "logprobs": True, "top_logprobs": 3, "options": opts})
    check(status == 200, (status, r))
    entries = r["logprobs"]
    check(len(entries) > 0, r)
    check_entries(entries, 3, greedy=True)
    check(spelled(entries) == r["message"]["content"], (spelled(entries), r["message"]["content"]))
    check(r["eval_count"] == len(entries) + (r["done_reason"] == "stop"), (r["eval_count"], len(entries)))

    # Streamed: each object carries the logprobs of the tokens it brings; the same in total.
    objects = ndjson(srv, "/api/chat", {"model": LLM, "messages": HELLO, "logprobs": True, "top_logprobs": 3,
                                        "options": opts})
    check(objects[-1]["done"] is True, objects[-1])
    streamed = [e for o in objects for e in o.get("logprobs", [])]
    check([(e["token"], e["logprob"]) for e in streamed] == [(e["token"], e["logprob"]) for e in entries],
          "streamed logprobs differ from the whole reply's")
    for o in objects[:-1]:
        if o["message"]["content"]:
            check(spelled(o.get("logprobs", [])) == o["message"]["content"], o)

    # Generate, logprobs without alternatives; without logprobs the field is absent.
    status, g, _ = srv.request("POST", "/api/generate", {"model": LLM, "prompt": "The sea is", "stream": False,
                                                         "logprobs": True, "options": opts})
    check(status == 200 and g["logprobs"] and spelled(g["logprobs"]) == g["response"], g)
    check_entries(g["logprobs"], 0, greedy=True)
    gen_objects = ndjson(srv, "/api/generate", {"model": LLM, "prompt": "The sea is", "logprobs": True,
                                                "top_logprobs": 1, "options": opts})
    check(spelled([e for o in gen_objects for e in o.get("logprobs", [])]) == g["response"], gen_objects)
    status, plain, _ = srv.request("POST", "/api/generate", {"model": LLM, "prompt": "The sea is", "stream": False,
                                                             "options": opts})
    check(status == 200 and "logprobs" not in plain and plain["response"] == g["response"], plain)

    # Refused by name, in Ollama's error shape.
    for body, field in [({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
                        ({"top_logprobs": 2}, "top_logprobs"),
                        ({"logprobs": "yes"}, "logprobs")]:
        status, err, _ = srv.request("POST", "/api/chat", {"model": LLM, "messages": HELLO, **body})
        check(status == 400 and f"'{field}'" in err["error"], (body, status, err))

    try:
        import ollama
    except ImportError:
        print("note: the ollama package is not installed; its check was skipped")
        return
    client = ollama.Client(host=srv.url)
    c = client.chat(model=LLM, messages=HELLO, logprobs=True, top_logprobs=2, options=opts)
    check(c.logprobs and [(x.token, x.logprob) for x in c.logprobs] == [(e["token"], e["logprob"]) for e in entries],
          c.logprobs)
    check(all(len(x.top_logprobs) == 2 for x in c.logprobs), c.logprobs)
    parts = list(client.generate(model=LLM, prompt="The sea is", logprobs=True, stream=True, options=opts))
    check("".join(x.token for p in parts for x in (p.logprobs or [])) == g["response"], parts)


def show_template(srv, models):
    status, smol, _ = srv.request("POST", "/api/show", {"model": LLM})
    check(status == 200 and "<|im_start|>" in smol["template"] and "{%" in smol["template"], smol["template"])
    if not os.path.exists(os.path.join(models, GEMMA + ".gguf")):
        print(f"note: {GEMMA}.gguf not installed; the template-less check was skipped")
        return
    status, gemma, _ = srv.request("POST", "/api/show", {"model": GEMMA})
    check(status == 200, (status, gemma))
    t = gemma["template"]
    check("<start_of_turn>user\n{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n{{ .Response }}" in t, t)
    check(t.startswith("{{ if .System }}") and "im_start" not in t, t)


def used_blocks(srv):
    return srv.metric("ragd_kv_cache_blocks", model=LLM, state="used")


def wait_idle(srv, what):
    deadline = time.time() + 30
    while used_blocks(srv) != 0 and time.time() < deadline:
        time.sleep(0.1)
    check(used_blocks(srv) == 0, f"KV blocks still in use after {what}: {used_blocks(srv)}")


def shared_prompt(srv):
    long_question = " ".join(["The tide comes in and the tide goes out."] * 20) + " Summarise this."
    msgs = [{"role": "user", "content": long_question}]
    prefill0 = srv.metric("ragd_prefill_tokens_total", model=LLM)
    shared0 = srv.metric("ragd_shared_prompt_tokens_total", model=LLM)
    status, r, _ = srv.request("POST", "/v1/chat/completions", {"model": LLM, "messages": msgs, "n": 4,
                                                                "max_tokens": 10, "temperature": 0})
    check(status == 200 and len(r["choices"]) == 4, (status, r))
    texts = {c["message"]["content"] for c in r["choices"]}
    check(len(texts) == 1, f"greedy choices differ: {texts}")
    prompt = r["usage"]["prompt_tokens"]
    cached = r["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0)
    check(prompt > 150, r["usage"])
    # The prompt computed once (less what the prefix cache already held), shared by three.
    check(srv.metric("ragd_prefill_tokens_total", model=LLM) - prefill0 == prompt - cached,
          (srv.metric("ragd_prefill_tokens_total", model=LLM) - prefill0, prompt, cached))
    check(srv.metric("ragd_shared_prompt_tokens_total", model=LLM) - shared0 == 3 * prompt, "shared tokens")
    wait_idle(srv, "an n=4 request")

    # Seeded choices: each the text that a single request with its derived seed... differ and reproduce.
    kw = {"model": LLM, "messages": msgs, "n": 3, "max_tokens": 10, "temperature": 1.0, "seed": 11}
    _, a, _ = srv.request("POST", "/v1/chat/completions", kw)
    _, b, _ = srv.request("POST", "/v1/chat/completions", kw)
    check([c["message"]["content"] for c in a["choices"]] == [c["message"]["content"] for c in b["choices"]],
          "seeded choices did not reproduce")
    _, one, _ = srv.request("POST", "/v1/chat/completions", {**kw, "n": 1})
    check(one["choices"][0]["message"]["content"] == a["choices"][0]["message"]["content"], "choice 0 != n=1")

    # A client that leaves mid-stream: every choice is cancelled and every block returns.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request("POST", "/v1/chat/completions",
                 json.dumps({"model": LLM, "messages": msgs, "n": 3, "max_tokens": 2000, "stream": True,
                             "temperature": 1.0}), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    check(resp.status == 200, resp.status)
    seen = 0
    while seen < 8:
        line = resp.readline()
        seen += line.startswith(b"data: {")
    conn.close()
    wait_idle(srv, "a cancelled n=3 stream")
    # Refused at admission (n over --max-per-user): nothing runs, nothing is held.
    status, err, _ = srv.request("POST", "/v1/chat/completions", {"model": LLM, "messages": msgs, "n": 5,
                                                                  "max_tokens": 4, "user": "u1"})
    check(status == 429, (status, err))
    wait_idle(srv, "a refused n=5 request")


def main():
    ragd, _, models = args(embedder=False)
    extra = ["--max-per-user", "4"]
    if os.path.exists(os.path.join(models, GEMMA + ".gguf")):
        extra += ["--model", os.path.join(models, GEMMA + ".gguf")]
    with Server(ragd, models, *extra, embedder=False) as srv:
        ollama_logprobs(srv)
        show_template(srv, models)
        shared_prompt(srv)
    print("ok")


if __name__ == "__main__":
    main()
