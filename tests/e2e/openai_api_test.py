"""The OpenAI-compatible endpoints through the official `openai` client: model list, chat
(plain and streamed, with usage), text completions, embeddings (base64 and float); fields
ragd does not implement (typical_p; tools on SmolLM2, whose template has no tool format:
tool_calls_test.py) refused with a 400 naming them (logprobs and n: logprobs_choices_test.py)."""
import json
import math
import sys

from serve_harness import EMBEDDER, LLM, SKIP, Server, args, check

try:
    import openai
except ImportError:
    print("skip: the openai package is not installed (scripts/setup packages)")
    sys.exit(SKIP)


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)

        ids = [m.id for m in client.models.list().data]
        check(LLM in ids and EMBEDDER in ids, f"models list: {ids}")
        # No entry reveals where the server keeps its files.
        _, listing, _ = srv.request("GET", "/v1/models")
        check("/" not in json.dumps([m["ragd"] for m in listing["data"]]), listing)

        r = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "Say hello."}],
                                           max_tokens=8, temperature=0)
        check(r.object == "chat.completion" and r.model == LLM, r)
        choice = r.choices[0]
        check(choice.message.role == "assistant" and isinstance(choice.message.content, str), choice)
        check(choice.finish_reason in ("stop", "length"), choice.finish_reason)
        u = r.usage
        check(u.prompt_tokens > 0 and 0 < u.completion_tokens <= 8, u)
        check(u.total_tokens == u.prompt_tokens + u.completion_tokens, u)

        # Streamed: a role chunk, content deltas, a finish_reason chunk, then the usage chunk.
        stream = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "Count to five."}],
                                                max_tokens=12, temperature=0, stream=True,
                                                stream_options={"include_usage": True})
        chunks = list(stream)
        check(chunks and chunks[0].choices[0].delta.role == "assistant", chunks[:1])
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        check(finals in (["stop"], ["length"]), f"finish reasons {finals}")
        check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, chunks[-1])
        check(len(text) > 0, "streamed text is empty")
        check(all(c.object == "chat.completion.chunk" for c in chunks), "chunk objects")

        # A stop string ends generation before it; it never appears in the text.
        r = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "List: 1, 2, 3, 4, 5"}],
                                           max_tokens=40, temperature=0, stop=["3"])
        check("3" not in r.choices[0].message.content, r.choices[0].message.content)

        c = client.completions.create(model=LLM, prompt="Once upon a time", max_tokens=6, temperature=0)
        check(c.object == "text_completion" and c.choices[0].text, c)
        check(c.usage.completion_tokens <= 6, c.usage)
        streamed = "".join(x.choices[0].text for x in client.completions.create(
            model=LLM, prompt="Once upon a time", max_tokens=6, temperature=0, stream=True) if x.choices)
        check(len(streamed) > 0, "streamed completion empty")

        e = client.embeddings.create(model=EMBEDDER, input=["hello world", "the cat sat on the mat"])
        check(len(e.data) == 2 and e.data[1].index == 1, e)
        v = e.data[0].embedding
        check(len(v) == 384 and abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3, f"dim {len(v)}")
        check(e.usage.prompt_tokens > 0, e.usage)
        f = client.embeddings.create(model=EMBEDDER, input="hello world", encoding_format="float")
        check(max(abs(a - b) for a, b in zip(f.data[0].embedding, v)) < 1e-5, "float and base64 vectors differ")

        # Fields ragd does not implement are refused by name, never ignored.
        hello = [{"role": "user", "content": "hi"}]
        tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
        refused = [("tools", dict(tools=[tool])),
                   ("typical_p", dict(extra_body={"typical_p": 0.5})),
                   ("tool_choice", dict(tool_choice="auto"))]
        for field, kwargs in refused:
            try:
                client.chat.completions.create(model=LLM, messages=hello, max_tokens=2, **kwargs)
                check(False, f"{field} was accepted")
            except openai.BadRequestError as e:
                err = e.body
                check(e.status_code == 400 and err["param"] == field and f"'{field}'" in err["message"], err)
        try:
            client.completions.create(model=LLM, prompt="x", max_tokens=2, logprobs=6)
            check(False, "completions logprobs above 5 was accepted")
        except openai.BadRequestError as e:
            check(e.body["param"] == "logprobs", e.body)
        # Their no-op values are accepted, as clients send them.
        r = client.chat.completions.create(model=LLM, messages=hello, max_tokens=2, logprobs=False, n=1,
                                           response_format={"type": "text"}, user="e2e", seed=1)
        check(r.choices[0].message.role == "assistant", r)
        status, body, _ = srv.request("POST", "/v1/chat/completions",
                                      {"messages": hello, "max_tokens": 2, "temprature": 0})
        check(status == 400 and body["error"]["param"] == "temprature" and "unknown field" in body["error"]["message"],
              (status, body))

        # The same rule on ragd's other endpoints, before anything is looked up.
        for path, body, field in [
                ("/v1/embeddings", {"input": "x", "truncate": True}, "truncate"),
                ("/v1/rag/query", {"question": "q", "tools": [tool]}, "tools"),
                ("/v1/search", {"query": "q", "top_n": 3}, "top_n"),
                ("/v1/chat/completions", {"messages": hello, "collection": "docs", "rag": {"topk": 2}}, "topk")]:
            status, body, _ = srv.request("POST", path, body)
            check(status == 400 and body["error"]["param"] == field and f"'{field}'" in body["error"]["message"],
                  (path, status, body))

        # Default model when the request names none (raw request: the client requires `model`).
        status, body, _ = srv.request("POST", "/v1/chat/completions",
                                      {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
        check(status == 200 and body["model"] == LLM, (status, body))
    print("ok")


if __name__ == "__main__":
    main()
