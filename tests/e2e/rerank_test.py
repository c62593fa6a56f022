"""POST /v1/rerank in the shape llama-server, vLLM, Jina and Cohere use, over plain HTTP:
ordering, top_n, return_documents, both document forms, usage, and the 400s/404s a client
can cause."""
from serve_harness import EMBEDDER, Server, args, check

DOCS = [
    "Green tea is made from unoxidised leaves. It originated in China.",
    {"text": "The Eiffel Tower is in Paris. It was completed in 1889 for the World's Fair."},
    "Volcanoes erupt lava and ash. Mount Etna in Sicily is one of the most active volcanoes in Europe.",
]


def rerank(srv, body):
    return srv.request("POST", "/v1/rerank", body)[:2]


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        status, body = rerank(srv, {"query": "When was the Eiffel Tower finished?", "documents": DOCS})
        check(status == 200, (status, body))
        results = body["results"]
        check([r["index"] for r in results][0] == 1, body)
        check(sorted(r["index"] for r in results) == [0, 1, 2], body)
        scores = [r["relevance_score"] for r in results]
        check(scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1, scores)
        check(results[0]["document"]["text"].startswith("The Eiffel Tower"), results[0])
        check(body["usage"]["total_tokens"] > 20 and body["model"].startswith("sentence:"), body)
        check(body["id"].startswith("rerank-") and body["object"] == "list", body)

        status, body = rerank(srv, {"model": "sentence", "query": "active volcano in Italy", "documents": DOCS,
                                    "top_n": 1, "return_documents": False})
        check(status == 200 and len(body["results"]) == 1, (status, body))
        check(body["results"][0]["index"] == 2 and "document" not in body["results"][0], body)
        status, body = rerank(srv, {"model": EMBEDDER, "query": "tea", "documents": DOCS, "top_n": 10})
        check(status == 200 and len(body["results"]) == 3 and body["results"][0]["index"] == 0, (status, body))

        bad = [
            ({"documents": DOCS}, "query"),
            ({"query": "", "documents": DOCS}, "query"),
            ({"query": 3, "documents": DOCS}, "query"),
            ({"query": "q", "documents": []}, "documents"),
            ({"query": "q", "documents": "text"}, "documents"),
            ({"query": "q", "documents": ["ok", 5]}, "documents"),
            ({"query": "q", "documents": [{"content": "x"}]}, "documents"),
            ({"query": "q", "documents": ["d"] * 257}, "documents"),
            ({"query": "q", "documents": DOCS, "top_n": 0}, "top_n"),
            ({"query": "q", "documents": DOCS, "top_n": "2"}, "top_n"),
            ({"query": "q", "documents": DOCS, "return_documents": "yes"}, "return_documents"),
            ({"query": "q", "documents": DOCS, "model": 7}, "model"),
        ]
        for req, param in bad:
            status, body = rerank(srv, req)
            check(status == 400 and body["error"]["param"] == param, (req, status, body))
        status, body = rerank(srv, {"query": "q", "documents": ["d"] * 257})
        check("at most 256" in body["error"]["message"], body)
        status, body = srv.request("POST", "/v1/rerank", raw=b"{not json")[:2]
        check(status == 400, (status, body))
        status, body = rerank(srv, {"model": "no-such-model", "query": "q", "documents": DOCS})
        check(status == 404, (status, body))
    check_rerank_stage(ragd, models)
    print("ok: /v1/rerank, and the --rerank sentence stage of /v1/search")


def check_rerank_stage(ragd, models):
    """`ragd serve --rerank sentence`: /v1/search (and RAG retrieval, the same service) runs
    the rerank stage only when configured, and keeps the answering chunk first."""
    docs = [{"id": "noise", "text": "Towers and towers: the tower list names every tower, tower by tower, "
                                    "with tower heights and tower photos of each tower."},
            {"id": "answer", "text": "Paris has many sights. The Eiffel Tower was completed in 1889 for the "
                                     "World's Fair. Its restaurants are popular."}]
    for flags, reranked in (((), False), (("--rerank", "sentence"), True)):
        with Server(ragd, models, *flags) as srv:
            status, body = srv.request("POST", "/v1/collections", {"name": "kb"})[:2]
            check(status == 201, (status, body))
            status, body = srv.request("POST", "/v1/collections/kb/documents", {"documents": docs})[:2]
            check(status == 200, (status, body))
            status, body = srv.request("POST", "/v1/search", {"query": "When was the Eiffel tower finished?",
                                                               "collection": "kb", "mode": "bm25"})[:2]
            check(status == 200, (status, body))
            print(flags, "rerank ms:", body["timings"]["rerank"], "top:", body["data"][0]["id"])
            check((body["timings"]["rerank"] > 0) == reranked, (flags, body["timings"]))
            if reranked:
                check(body["data"][0]["id"] == "answer", body["data"])


if __name__ == "__main__":
    main()
