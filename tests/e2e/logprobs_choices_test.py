"""OpenAI `logprobs` / `top_logprobs` and `n` through the official `openai` client: chat and
completions, whole and streamed. Checks the shapes, that logprobs are <= 0 and alternatives
sorted, that under greedy decoding the chosen token is the top alternative with the same
logprob, that the tokens' bytes spell the text, that n seeded choices differ and reproduce,
usage over n choices, interleaved streaming with indexes, and refusals by field name."""
import sys
from collections import defaultdict

from serve_harness import LLM, SKIP, Server, args, check

try:
    import openai
except ImportError:
    print("skip: the openai package is not installed (scripts/setup packages)")
    sys.exit(SKIP)

HELLO = [{"role": "user", "content": "Write one sentence about the sea."}]


def spelled(entries):
    """The text a list of chat logprob entries spells, from their bytes."""
    return b"".join(bytes(e.bytes) for e in entries).decode("utf-8", errors="replace")


def check_chat_entries(entries, top_n, greedy):
    for e in entries:
        check(isinstance(e.token, str) and e.logprob <= 0, e)
        check(all(isinstance(b, int) and 0 <= b < 256 for b in e.bytes), e.bytes)
        check(bytes(e.bytes).decode("utf-8", errors="replace") == e.token, (e.token, e.bytes))
        check(len(e.top_logprobs) == top_n, (top_n, e.top_logprobs))
        lps = [t.logprob for t in e.top_logprobs]
        check(all(x <= 0 for x in lps) and lps == sorted(lps, reverse=True), lps)
        check(all(bytes(t.bytes).decode("utf-8", errors="replace") == t.token for t in e.top_logprobs), e)
        if greedy and top_n > 0:
            top = e.top_logprobs[0]
            check(top.token == e.token and top.logprob == e.logprob, (e.token, e.logprob, top))


def chat_logprobs(client):
    r = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=16, temperature=0, logprobs=True,
                                       top_logprobs=5)
    c = r.choices[0]
    entries = c.logprobs.content
    check(len(entries) > 0, c)
    check_chat_entries(entries, 5, greedy=True)
    check(spelled(entries) == c.message.content, (spelled(entries), c.message.content))
    # Every generated token has an entry; an end-of-generation token adds no text and none.
    eos = 1 if c.finish_reason == "stop" else 0
    check(r.usage.completion_tokens == len(entries) + eos, (r.usage, len(entries), c.finish_reason))

    plain = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=16, temperature=0, logprobs=True)
    check_chat_entries(plain.choices[0].logprobs.content, 0, greedy=True)
    check(plain.choices[0].message.content == c.message.content, "logprobs changed the greedy text")
    check([e.logprob for e in plain.choices[0].logprobs.content] == [e.logprob for e in entries], "logprobs differ")
    off = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=4, temperature=0)
    check(off.choices[0].logprobs is None, off.choices[0])

    # Sampled (temperature > 0): still the raw model's logprobs, sorted, <= 0.
    s = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=12, temperature=1.2, seed=3,
                                       logprobs=True, top_logprobs=3)
    check_chat_entries(s.choices[0].logprobs.content, 3, greedy=False)
    return entries, c.message.content


def completion_logprobs(client):
    prompt = "Once upon a time"
    r = client.completions.create(model=LLM, prompt=prompt, max_tokens=10, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    n = len(lp.tokens)
    check(n > 0 and len(lp.token_logprobs) == n and len(lp.top_logprobs) == n and len(lp.text_offset) == n, lp)
    check(all(x <= 0 for x in lp.token_logprobs), lp.token_logprobs)
    check(lp.text_offset[0] == 0 and lp.text_offset == sorted(lp.text_offset), lp.text_offset)
    check("".join(lp.tokens) == r.choices[0].text, (lp.tokens, r.choices[0].text))
    for tok, x, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        check(isinstance(top, dict) and 1 <= len(top) <= 3, top)
        # Greedy: the chosen token is among the alternatives, with the best logprob.
        check(top.get(tok) == x and x == max(top.values()), (tok, x, top))
    echo = client.completions.create(model=LLM, prompt=prompt, max_tokens=4, temperature=0, logprobs=0, echo=True)
    e = echo.choices[0]
    check(e.text.startswith(prompt) and e.logprobs.text_offset[0] == len(prompt), (e.text, e.logprobs.text_offset))
    check(all(top == {} for top in e.logprobs.top_logprobs), e.logprobs.top_logprobs)
    return lp


def choices(client):
    kw = dict(model=LLM, messages=HELLO, max_tokens=12, temperature=1.0, seed=7, n=3)
    r = client.chat.completions.create(**kw)
    check(len(r.choices) == 3 and [c.index for c in r.choices] == [0, 1, 2], r.choices)
    texts = [c.message.content for c in r.choices]
    check(len(set(texts)) > 1, f"three seeded choices are all the same: {texts}")
    again = client.chat.completions.create(**kw)
    check([c.message.content for c in again.choices] == texts, "seeded choices did not reproduce")
    one = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=12, temperature=1.0, seed=7)
    check(one.choices[0].message.content == texts[0], "choice 0 of n=3 differs from n=1 with the same seed")
    # Usage: the prompt once, the completions summed.
    check(r.usage.prompt_tokens == one.usage.prompt_tokens, (r.usage, one.usage))
    with_lp = client.chat.completions.create(**kw, logprobs=True)
    counted = sum(len(c.logprobs.content) + (1 if c.finish_reason == "stop" else 0) for c in with_lp.choices)
    check(with_lp.usage.completion_tokens == counted, (with_lp.usage, counted))
    check(with_lp.usage.total_tokens == with_lp.usage.prompt_tokens + with_lp.usage.completion_tokens, with_lp.usage)
    # Greedy n > 1: identical choices.
    g = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=8, temperature=0, n=2)
    check(g.choices[0].message.content == g.choices[1].message.content, g.choices)
    c = client.completions.create(model=LLM, prompt="The sea is", max_tokens=8, temperature=1.0, seed=1, n=2)
    check(sorted(x.index for x in c.choices) == [0, 1], c.choices)


def streaming(client, greedy_entries, greedy_text):
    # One greedy choice streamed: the same tokens and logprobs as the whole reply.
    chunks = list(client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=16, temperature=0,
                                                 logprobs=True, top_logprobs=5, stream=True))
    entries = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check(text == greedy_text, (text, greedy_text))
    check([(e.token, e.logprob) for e in entries] == [(e.token, e.logprob) for e in greedy_entries],
          "streamed logprobs differ from the whole reply's")

    # n = 2, sampled, with logprobs and usage: chunks interleave, each names its index.
    stream = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=12, temperature=1.0, seed=5, n=2,
                                            logprobs=True, top_logprobs=2, stream=True,
                                            stream_options={"include_usage": True})
    texts, lps, finishes, roles = defaultdict(str), defaultdict(list), defaultdict(list), defaultdict(int)
    usage = None
    for c in stream:
        if c.usage:
            usage = c.usage
        for ch in c.choices:
            roles[ch.index] += ch.delta.role == "assistant"
            texts[ch.index] += ch.delta.content or ""
            if ch.logprobs and ch.logprobs.content:
                lps[ch.index] += ch.logprobs.content
            if ch.finish_reason:
                finishes[ch.index].append(ch.finish_reason)
    check(sorted(texts) == [0, 1] and dict(roles) == {0: 1, 1: 1}, (dict(texts), dict(roles)))
    check(all(len(finishes[i]) == 1 for i in (0, 1)), dict(finishes))
    for i in (0, 1):
        check_chat_entries(lps[i], 2, greedy=False)
        check(spelled(lps[i]) == texts[i], (i, spelled(lps[i]), texts[i]))
    counted = sum(len(lps[i]) + (finishes[i] == ["stop"]) for i in (0, 1))
    check(usage is not None and usage.completion_tokens == counted, (usage, counted))
    whole = client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=12, temperature=1.0, seed=5, n=2)
    check([c.message.content for c in whole.choices] == [texts[0], texts[1]], "streamed choices differ from whole")

    # Completions, streamed with n = 2: text_offset continues across each choice's chunks.
    offsets, tokens, ctexts = defaultdict(list), defaultdict(list), defaultdict(str)
    for c in client.completions.create(model=LLM, prompt="The sea is", max_tokens=10, temperature=0.9, seed=2, n=2,
                                       logprobs=2, stream=True):
        for ch in c.choices:
            ctexts[ch.index] += ch.text
            if ch.logprobs:
                offsets[ch.index] += ch.logprobs.text_offset
                tokens[ch.index] += ch.logprobs.tokens
    check(sorted(ctexts) == [0, 1], dict(ctexts))
    for i in (0, 1):
        check("".join(tokens[i]) == ctexts[i], (tokens[i], ctexts[i]))
        expect, at = [], 0
        for t in tokens[i]:
            expect.append(at)
            at += len(t)
        check(offsets[i] == expect, (offsets[i], expect))


def refusals(client, srv):
    bad = [("top_logprobs", dict(top_logprobs=2)),             # without logprobs: true
           ("top_logprobs", dict(logprobs=True, top_logprobs=21)),
           ("n", dict(n=17)),
           ("n", dict(n=0))]
    for field, kw in bad:
        try:
            client.chat.completions.create(model=LLM, messages=HELLO, max_tokens=2, **kw)
            check(False, f"{kw} was accepted")
        except openai.BadRequestError as e:
            check(e.status_code == 400 and e.body["param"] == field and f"'{field}'" in e.body["message"], e.body)
    try:
        client.completions.create(model=LLM, prompt="x", max_tokens=2, logprobs=6)
        check(False, "completions logprobs=6 was accepted")
    except openai.BadRequestError as e:
        check(e.body["param"] == "logprobs", e.body)
    status, body, _ = srv.request("POST", "/v1/chat/completions",
                                  {"messages": HELLO, "collection": "docs", "n": 2, "max_tokens": 2})
    check(status == 400 and body["error"]["param"] == "n", (status, body))


def main():
    ragd, _, models = args(embedder=False)
    with Server(ragd, models, embedder=False) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
        entries, text = chat_logprobs(client)
        completion_logprobs(client)
        choices(client)
        streaming(client, entries, text)
        refusals(client, srv)
    print("ok")


if __name__ == "__main__":
    main()
