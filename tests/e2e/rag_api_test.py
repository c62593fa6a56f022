"""Documents API, RAG queries with citations (plain and SSE, via curl), the result and
answer caches, /v1/batch and /v1/cache."""
import json
import os
import re
import subprocess
import tempfile

from serve_harness import LLM, Server, args, check

DOCS = [
    {"id": "volcano", "title": "Volcanoes",
     "text": "A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape. "
             "Mount Etna in Sicily is one of the most active volcanoes in Europe.",
     "metadata": {"topic": "geology"}},
    {"id": "tea", "title": "Green tea",
     "text": "Green tea is made from the leaves of Camellia sinensis that have not been oxidised. "
             "It originated in China and is popular across East Asia.",
     "metadata": {"topic": "food"}},
]


def curl(srv, path, body, stream=False):
    cmd = ["curl", "-sS", "-X", "POST", srv.url + path, "-H", "Content-Type: application/json", "-d", json.dumps(body)]
    if stream:
        cmd.insert(1, "-N")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def sse_events(text):
    """[(event name or None, data)] of an SSE body."""
    events = []
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        status, body, _ = srv.request("POST", "/v1/collections", {"name": "docs"})
        check(status == 201 and body["name"] == "docs", (status, body))
        status, body, _ = srv.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
        check(status == 200 and body["documents_added"] == 2 and body["chunks_embedded"] >= 2, (status, body))
        # Re-sending unchanged documents is a no-op.
        status, body, _ = srv.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
        check(status == 200 and body["documents_unchanged"] == 2 and body["chunks_written"] == 0, body)

        # Multipart upload of a file.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "rivers.md")
            with open(path, "w") as f:
                f.write("# Rivers\n\nThe Danube flows through ten countries before it reaches the Black Sea.\n")
            out = subprocess.run(["curl", "-sS", "-F", f"file=@{path}", srv.url + "/v1/collections/docs/documents"],
                                 capture_output=True, text=True, check=True).stdout
            check(json.loads(out)["documents_added"] == 1, out)

        status, body, _ = srv.request("GET", "/v1/collections/docs/documents")
        check(status == 200 and sorted(d["id"] for d in body["data"]) == ["rivers.md", "tea", "volcano"], body)
        status, body, _ = srv.request("GET", "/v1/collections/docs/documents/volcano")
        check(status == 200 and "Etna" in body["chunks"][0]["text"] and body["metadata"]["topic"] == "geology", body)
        status, body, _ = srv.request("GET", "/v1/collections")
        check(status == 200 and body["data"][0]["documents"] == 3, body)

        question = {"question": "Which volcano in Sicily is active?", "collection": "docs", "top_k": 2,
                    "max_tokens": 24, "temperature": 0}
        r = json.loads(curl(srv, "/v1/rag/query", question))
        check(r["object"] == "rag.answer" and r["model"] == LLM and r["mode"] == "hybrid", r)
        check(r["sources"] and r["sources"][0]["id"] == "volcano" and r["sources"][0]["number"] == 1, r["sources"])
        check(isinstance(r["citations"], list) and isinstance(r["answer"], str), r)
        check(set(r["timings"]) >= {"embed", "retrieve", "rerank", "prefill", "decode", "total"}, r["timings"])
        check(r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0, r["usage"])
        check(r["cache"] == {"result": "miss", "answer": "miss"}, r["cache"])
        for c in r["citations"]:
            check(c["number"] in [s["number"] for s in r["sources"]], c)

        # The same question again: retrieval and the answer both come from the caches.
        again = json.loads(curl(srv, "/v1/rag/query", question))
        check(again["cache"]["result"] == "hit" and again["cache"]["answer"] == "exact", again["cache"])
        check(again["answer"] == r["answer"], "cached answer differs")

        # Streamed: retrieval event, deltas, done event with citations, usage and timings.
        events = sse_events(curl(srv, "/v1/rag/query", dict(question, question="What is green tea made from?",
                                                             stream=True), stream=True))
        names = [n for n, _ in events]
        check(names[0] == "retrieval" and names[-1] == "done", names)
        retrieval = json.loads(events[0][1])
        check(retrieval["sources"][0]["id"] == "tea", retrieval)
        deltas = "".join(json.loads(d)["delta"] for n, d in events if n is None)
        done = json.loads(events[-1][1])
        # The final answer is the streamed text with its [n] markers verified against the
        # sources: only the markers may differ, and every one names a source.
        def unmarked(text):
            return re.sub(r"\s*\[[\d, ]+\]", "", text)
        check(unmarked(done["answer"]) == unmarked(deltas), (done["answer"], deltas))
        check("citations" in done and done["usage"]["completion_tokens"] > 0, done)
        for marker in re.findall(r"\[([\d, ]+)\]", done["answer"]):
            for n in marker.replace(",", " ").split():
                check(1 <= int(n) <= len(retrieval["sources"]), (n, done["answer"]))
        check(done["timings"]["total"] >= done["timings"]["decode"], done["timings"])

        # BM25-only query with a metadata filter.
        r = json.loads(curl(srv, "/v1/rag/query", {"question": "Danube", "collection": "docs", "mode": "bm25",
                                                   "max_tokens": 4, "filters": ["source=rivers.md"]}))
        check([s["id"] for s in r["sources"]] == ["rivers.md"], r["sources"])

        # Batch: each request gets its own result or error.
        status, body, _ = srv.request("POST", "/v1/batch", {"requests": [
            {"type": "chat", "body": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}},
            {"type": "completion", "body": {"prompt": "The sky is", "max_tokens": 4}},
            {"type": "rag", "body": dict(question, max_tokens=4)},
            {"type": "chat", "body": {"messages": []}},
        ]})
        check(status == 200, (status, body))
        check([x["status"] for x in body["results"]] == [200, 200, 200, 400], body)
        check(body["results"][0]["response"]["object"] == "chat.completion", body["results"][0])

        status, body, _ = srv.request("POST", "/v1/cache", {"action": "status"})
        check(status == 200 and body["caches"]["answer"]["exact_hits"] >= 1, body)
        status, body, _ = srv.request("POST", "/v1/cache", {"action": "clear", "cache": "answer"})
        check(status == 200 and body["caches"]["answer"]["entries"] == 0, body)

        # Deleting a document changes the collection: it is gone from results and listings.
        status, _, _ = srv.request("DELETE", "/v1/collections/docs/documents/volcano")
        check(status == 200, status)
        check(srv.request("GET", "/v1/collections/docs/documents/volcano")[0] == 404, "deleted doc still there")
        r = json.loads(curl(srv, "/v1/rag/query", question))
        check("volcano" not in [s["id"] for s in r["sources"]], r["sources"])
        check(srv.metric("ragd_collection_documents", collection="docs") == 2, "document gauge")

        status, _, _ = srv.request("DELETE", "/v1/collections/docs")
        check(status == 200, status)
        check(srv.request("GET", "/v1/collections/docs")[0] == 404, "collection still there")
    print("ok")


if __name__ == "__main__":
    main()
