"""POST /v1/search (retrieval only) and RAG through /v1/chat/completions with a `collection`
(the openai client, plain and streamed, and a follow-up question), with citations that
name existing sources and carry spans into the cited chunk."""
import sys

from serve_harness import LLM, SKIP, Server, args, check

try:
    import openai
except ImportError:
    print("skip: the openai package is not installed (scripts/setup packages)")
    sys.exit(SKIP)

DOCS = [
    {"id": "volcano", "title": "Volcanoes",
     "text": "A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape. "
             "Mount Etna in Sicily is one of the most active volcanoes in Europe. Etna is about 3,300 metres tall.",
     "metadata": {"topic": "geology"}},
    {"id": "tea", "title": "Green tea",
     "text": "Green tea is made from the leaves of Camellia sinensis that have not been oxidised. "
             "It originated in China and is popular across East Asia.",
     "metadata": {"topic": "food"}},
    {"id": "rivers", "title": "Rivers",
     "text": "The Danube flows through ten countries before it reaches the Black Sea.",
     "metadata": {"topic": "geology"}},
]


def check_citations(citations, sources):
    numbers = {s["number"]: s for s in sources}
    for c in citations:
        check(c["number"] in numbers, (c, list(numbers)))
        src = numbers[c["number"]]
        check(c["id"] == src["id"] and c["title"] == src["title"] and c["document_id"] == src["document_id"], c)
        span = c["span"]
        check(0 <= span["start"] < span["end"] <= len(src["text"].encode()), (span, src["text"]))
        check(src["text"].encode()[span["start"]:span["end"]].decode() == c["quote"], (c, src["text"]))


def test_search(srv):
    status, r, _ = srv.request("POST", "/v1/search", {"collection": "docs", "query": "active volcano in Sicily"})
    check(status == 200 and r["object"] == "search.result" and r["mode"] == "hybrid", (status, r))
    check(r["data"][0]["id"] == "volcano" and r["data"][0]["rank"] == 1 and "Etna" in r["data"][0]["text"], r)
    check(r["level"] == "chunks" and r["cache"] == "miss" and set(r["timings"]) >= {"embed", "retrieve", "total"}, r)
    # Again: the result cache answers.
    check(srv.request("POST", "/v1/search", {"collection": "docs", "query": "active volcano in Sicily"})[1]["cache"]
          == "hit", "result cache")
    # BM25 documents, filtered, without text.
    status, r, _ = srv.request("POST", "/v1/search", {"collection": "docs", "query": "Danube Black Sea", "mode": "bm25",
                                                      "level": "documents", "filters": {"topic": "geology"},
                                                      "with_text": False, "top_k": 5})
    check(status == 200 and r["mode"] == "bm25" and r["level"] == "documents", r)
    check([d["id"] for d in r["data"]][0] == "rivers" and "text" not in r["data"][0], r)
    check(all(d["metadata"]["topic"] == "geology" for d in r["data"]), r)
    status, r, _ = srv.request("POST", "/v1/search", {"collection": "docs", "query": "tea", "mode": "dense",
                                                      "fusion": "rrf", "profile": "fast", "top_k": 1})
    check(status == 200 and len(r["data"]) == 1 and r["data"][0]["id"] == "tea", r)
    # Client errors: 400 naming the field, 404 for an unknown collection.
    for body, field in [({"collection": "docs"}, "query"), ({"collection": "docs", "query": "x", "mode": "fuzzy"}, "mode"),
                        ({"collection": "docs", "query": "x", "top_k": 0}, "top_k"),
                        ({"collection": "docs", "query": "x", "level": "pages"}, "level"),
                        ({"collection": "docs", "query": "x", "profile": "turbo"}, "profile"),
                        ({"collection": "docs", "query": "x", "filters": ["novalue"]}, "filters")]:
        status, r, _ = srv.request("POST", "/v1/search", body)
        check(status == 400 and r["error"]["param"] == field, (body, status, r))
    status, r, _ = srv.request("POST", "/v1/search", {"collection": "nope", "query": "x"})
    check(status == 404, (status, r))


def test_chat(srv):
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
    question = [{"role": "user", "content": "Which volcano in Sicily is active?"}]
    r = client.chat.completions.create(model=LLM, messages=question, temperature=0, max_tokens=48,
                                       extra_body={"collection": "docs", "rag": {"top_k": 2}})
    check(r.object == "chat.completion" and r.choices[0].message.role == "assistant", r)
    extra = r.model_extra
    check(extra["sources"][0]["id"] == "volcano" and len(extra["sources"]) <= 2, extra["sources"])
    check(extra["rag"]["query"] == question[0]["content"] and extra["rag"]["collection"] == "docs", extra["rag"])
    check_citations(extra["citations"], extra["sources"])
    check(r.usage.completion_tokens > 0, r.usage)

    # A follow-up that refers back is retrieved together with the previous question.
    follow = question + [{"role": "assistant", "content": r.choices[0].message.content},
                         {"role": "user", "content": "How tall is it?"}]
    r2 = client.chat.completions.create(model=LLM, messages=follow, temperature=0, max_tokens=32,
                                        extra_body={"collection": "docs"})
    check(r2.model_extra["rag"]["query"] == "Which volcano in Sicily is active? How tall is it?", r2.model_extra["rag"])
    check(r2.model_extra["sources"][0]["id"] == "volcano", r2.model_extra["sources"])

    # Streamed: sources on the first chunk, citations on the finishing one.
    stream = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "What is green tea made from?"}],
                                            temperature=0, max_tokens=32, stream=True,
                                            extra_body={"collection": "docs"}, stream_options={"include_usage": True})
    chunks = list(stream)
    check(chunks[0].choices[0].delta.role == "assistant", chunks[0])
    sources = chunks[0].model_extra["sources"]
    check(sources[0]["id"] == "tea", sources)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    check(len(finals) == 1 and "citations" in finals[0].model_extra, finals)
    check_citations(finals[0].model_extra["citations"], sources)
    check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, chunks[-1])

    # Errors: unknown collection 404, bad retrieval option 400.
    try:
        client.chat.completions.create(model=LLM, messages=question, extra_body={"collection": "nope"})
        check(False, "unknown collection accepted")
    except openai.NotFoundError:
        pass
    try:
        client.chat.completions.create(model=LLM, messages=question, extra_body={"collection": "docs", "rag": {"mode": "x"}})
        check(False, "bad mode accepted")
    except openai.BadRequestError as e:
        check(e.body["param"] == "mode", e.body)


def test_rag_query_citations(srv):
    status, r, _ = srv.request("POST", "/v1/rag/query", {"question": "What is green tea made from?", "collection": "docs",
                                                         "temperature": 0, "max_tokens": 48})
    check(status == 200, (status, r))
    check_citations(r["citations"], r["sources"])
    check(r["finish_reason"] in ("stop", "length"), r)


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        check(srv.request("POST", "/v1/collections", {"name": "docs"})[0] == 201, "create collection")
        status, body, _ = srv.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
        check(status == 200 and body["documents_added"] == 3, (status, body))
        test_search(srv)
        test_chat(srv)
        test_rag_query_citations(srv)
    print("ok")


if __name__ == "__main__":
    main()
