"""Ingestion progress: POST .../documents?wait=false answers 202 with a job, GET /v1/ingest/{id}
reports its phase and counts until it completes, and the documents are then searchable; jobs
run in submission order; bad input and unknown jobs are 4xx. (Failure and cancellation
bookkeeping is tested in tests/server/ingest_jobs_test.cpp.)"""
import time

from serve_harness import Server, args, check


def documents(n, tag):
    return [{"id": f"{tag}-{i}", "title": f"Note {i} about {tag}",
             "text": f"This is note number {i} about {tag}. " + " ".join(f"word{(i * 7 + k) % 97}" for k in range(200))}
            for i in range(n)]


def wait_job(srv, job_id, timeout=300):
    """Polls until the job ends; returns (final snapshot, every progress value seen)."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, job, _ = srv.request("GET", f"/v1/ingest/{job_id}")
        check(status == 200, (status, job))
        seen.append(job["progress"])
        if job["status"] not in ("queued", "running"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def main():
    ragd, _, models = args()
    with Server(ragd, models) as srv:
        status, body, headers = srv.request("POST", "/v1/collections/notes/documents?wait=false",
                                            {"documents": documents(24, "rivers")})
        check(status == 202, (status, body))
        check(body["object"] == "ingest.job" and body["status"] in ("queued", "running", "completed"), body)
        check(body["documents"]["total"] == 24 and body["collection"] == "notes", body)
        check(headers.get("Location") == "/v1/ingest/" + body["id"], headers)

        job, seen = wait_job(srv, body["id"])
        check(job["status"] == "completed" and job["phase"] == "done" and job["progress"] == 1.0, job)
        check(seen == sorted(seen), f"progress went backwards: {seen}")
        result = job["result"]
        check(result["documents_added"] == 24 and result["chunks_written"] >= 24, result)
        check(result["chunks_embedded"] == result["chunks_written"], result)
        check(job["documents"]["processed"] == 24 and job["chunks"]["embedded"] == result["chunks_embedded"], job)
        check(job["started_at"] is not None and job["finished_at"] is not None, job)

        # The documents are there and searchable.
        status, coll, _ = srv.request("GET", "/v1/collections/notes")
        check(status == 200 and coll["documents"] == 24, coll)
        status, res, _ = srv.request("POST", "/v1/rag/query", {"question": "note about rivers", "collection": "notes",
                                                               "top_k": 3, "max_tokens": 4})
        check(status == 200 and len(res["sources"]) == 3, (status, res))

        # Two queued jobs run in order; a synchronous ingest is listed too.
        s1, j1, _ = srv.request("POST", "/v1/collections/notes/documents?wait=false", {"documents": documents(5, "lakes")})
        s2, j2, _ = srv.request("POST", "/v1/collections/notes/documents?wait=0", {"documents": documents(5, "hills")})
        check(s1 == 202 and s2 == 202, (s1, j1, s2, j2))
        done2, _ = wait_job(srv, j2["id"])
        done1, _ = wait_job(srv, j1["id"])
        check(done1["status"] == done2["status"] == "completed", (done1, done2))
        check(done1["finished_at"] <= done2["started_at"] + 1, (done1, done2))
        status, sync, _ = srv.request("POST", "/v1/collections/notes/documents?wait=true", {"documents": documents(2, "sea")})
        check(status == 200 and sync["documents_added"] == 2, sync)
        status, listing, _ = srv.request("GET", "/v1/ingest")
        check(status == 200 and listing["object"] == "list", listing)
        ids = [j["id"] for j in listing["data"]]
        check(len(ids) == 4 and ids[1] == j2["id"] and ids[3] == body["id"], ids)
        check(listing["data"][0]["status"] == "completed", listing["data"][0])

        # Client errors are answered before anything is queued.
        status, bad, _ = srv.request("POST", "/v1/collections/notes/documents?wait=false",
                                     {"documents": [{"id": "empty", "title": "", "text": ""}]})
        check(status == 400 and "no text" in bad["error"]["message"], (status, bad))
        status, bad, _ = srv.request("POST", "/v1/collections/bad%20name/documents?wait=false",
                                     {"documents": documents(1, "x")})
        check(status == 400, (status, bad))
        status, err, _ = srv.request("POST", "/v1/collections/notes/documents?wait=maybe", {"documents": documents(1, "x")})
        check(status == 400 and err["error"]["param"] == "wait", (status, err))
        status, err, _ = srv.request("GET", "/v1/ingest/ingest-999999")
        check(status == 404, (status, err))
        status, err, _ = srv.request("GET", "/v1/ingest/not-a-job")
        check(status == 404, (status, err))
        check(srv.metric("ragd_ingest_jobs_queued") == 0, srv.metric("ragd_ingest_jobs_queued"))
    print("ok")


if __name__ == "__main__":
    main()
