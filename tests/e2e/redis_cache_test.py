"""Two `ragd serve` replicas sharing one Redis (--cache redis://...), all on 127.0.0.1:
  - embeddings computed by replica A are reused by B (B ingests the same documents: each
    replica here has its own SQLite store holding the same content, as replicas on one
    shared store would; the content versions, which are in the cache keys, match);
  - a search result and a RAG answer computed through A are hits through B
    (response "cache" fields and ragd_cache_shared_hits_total on B);
  - Redis killed mid-test: B still answers (misses, no failed request) and counts
    ragd_cache_backend_errors_total.
Skipped (77) when redis-server or the models are missing; scripts/setup installs redis-server."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import SKIP, Server, args, check, free_port  # noqa: E402

DOCS = [
    {"id": "volcano", "title": "Volcanoes",
     "text": "A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape. "
             "Mount Etna in Sicily is one of the most active volcanoes in Europe."},
    {"id": "tea", "title": "Green tea",
     "text": "Green tea is made from the leaves of Camellia sinensis that have not been oxidised. "
             "It originated in China and is popular across East Asia."},
]


class Redis:
    """redis-server from the Debian package, without persistence, in a temporary directory."""

    def __init__(self, binary):
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.tmp.name],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self):
        self.kill()
        self.tmp.cleanup()


def ingest(srv):
    status, body, _ = srv.request("POST", "/v1/collections", {"name": "docs"})
    check(status in (200, 201), body)
    status, body, _ = srv.request("POST", "/v1/collections/docs/documents", {"documents": DOCS})
    check(status == 200, body)


def shared_hits(srv, cache):
    return srv.metric("ragd_cache_shared_hits_total", cache=cache) or 0


def main():
    ragd, _, models = args()
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if not binary:
        print("skip: redis-server is not installed (scripts/setup installs it)")
        sys.exit(SKIP)
    redis = Redis(binary)
    try:
        with Server(ragd, models, "--cache", redis.url) as a, Server(ragd, models, "--cache", redis.url) as b:
            ingest(a)
            ingest(b)
            check(shared_hits(b, "embedding") >= len(DOCS), "B re-embedded chunks that A had embedded:\n" + b.metrics())
            check(shared_hits(a, "embedding") == 0, "A found embeddings it never stored")

            search = {"query": "active volcano in Sicily", "collection": "docs", "top_k": 2}
            status, ra, _ = a.request("POST", "/v1/search", search)
            check(status == 200 and ra["cache"] == "miss", ra)
            status, rb, _ = b.request("POST", "/v1/search", search)
            check(status == 200 and rb["cache"] == "hit", rb)
            check([h["id"] for h in rb["data"]] == [h["id"] for h in ra["data"]], (ra["data"], rb["data"]))
            check(shared_hits(b, "result") == 1, b.metrics())

            question = {"question": "Which volcano in Sicily is active?", "collection": "docs", "top_k": 2,
                        "max_tokens": 16, "temperature": 0}
            status, qa, _ = a.request("POST", "/v1/rag/query", question)
            check(status == 200 and qa["cache"] == {"result": "miss", "answer": "miss"}, qa)
            status, qb, _ = b.request("POST", "/v1/rag/query", question)
            check(status == 200 and qb["cache"]["answer"] == "exact" and qb["cache"]["result"] == "hit", qb)
            check(qb["answer"] == qa["answer"], (qa["answer"], qb["answer"]))
            check(shared_hits(b, "answer") == 1, b.metrics())

            # Redis gone: requests still succeed, as misses, and the failures are counted.
            redis.kill()
            other = dict(question, question="What is green tea made from?")
            status, qc, _ = b.request("POST", "/v1/rag/query", other)
            check(status == 200 and qc["cache"]["answer"] == "miss", qc)
            status, sc, _ = b.request("POST", "/v1/search", dict(search, query="East Asia"))
            check(status == 200 and sc["cache"] == "miss", sc)
            errors = b.metric("ragd_cache_backend_errors_total") or 0
            check(errors > 0, b.metrics())
            check("unreachable" in b.logs(), b.logs())
            # The local first level still serves what this replica already holds.
            status, again, _ = b.request("POST", "/v1/rag/query", question)
            check(status == 200 and again["cache"]["answer"] == "exact", again)
    finally:
        redis.close()
    print("ok")


if __name__ == "__main__":
    main()
