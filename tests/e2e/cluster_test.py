"""The cluster of issue 17 on 127.0.0.1: PostgreSQL (the shared store) + Redis (the shared
caches) + 3 `ragd serve` replicas (--store postgres://... --cache redis://..., the fast
model and the embedder) + nginx (deploy/nginx/ragd.conf) in front of them:
  1. a document uploaded through replica A's own port is found by /v1/search through B and
     C directly (dense, bm25, hybrid; no stale hit from the shared result cache for the same
     query asked before the upload), B's index caught up incrementally
     (ragd_vector_index_updates_total{kind="incremental"}, no rebuild); a DELETE through A
     removes it from B and C (incrementally again);
  1b. an upload with ?wait=false through A is polled to "completed" through B's own port
     (GET /v1/ingest/{id} answers from the job's snapshot in Redis), after which the
     document is found through C; B's GET /v1/ingest lists only B's jobs;
  2. a /v1/rag/query answered through B is an answer-cache hit through C (the response's
     "cache" and C's ragd_cache_shared_hits_total{cache="answer"});
  3. kill -9 of one replica under a loop of non-streaming requests (completions and
     searches) through nginx: 0 client errors; the stream on the killed replica ends
     promptly, truncated between events; the streams on the others complete;
  4. the killed replica, restarted on its port, gets requests through nginx again and finds
     a document uploaded through another replica while it was down.
Every process is stopped at the end, also on failure (and on SIGTERM from ctest's timeout).
Skipped (77) when nginx, redis-server, PostgreSQL's server binaries or the models are
missing; scripts/setup installs them."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nginx_harness  # noqa: E402
import nginx_replicas_test as nrt  # noqa: E402
import serve_harness  # noqa: E402
from redis_cache_test import Redis  # noqa: E402
from serve_harness import EMBEDDER, SKIP, check, free_port, stop_process  # noqa: E402

COLLECTION = "cluster"
SEED = [
    {"id": "volcano", "title": "Volcanoes",
     "text": "A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape. "
             "Mount Etna in Sicily is one of the most active volcanoes in Europe."},
    {"id": "tea", "title": "Green tea",
     "text": "Green tea is made from the leaves of Camellia sinensis that have not been oxidised. "
             "It originated in China and is popular across East Asia."},
    {"id": "bridge", "title": "Suspension bridges",
     "text": "A suspension bridge hangs its deck from vertical cables attached to main cables draped "
             "between towers. The Golden Gate Bridge in San Francisco opened in 1937."},
]
# Uploaded through A once B and C have opened the collection's index (check 1).
NEW = {"id": "lighthouse", "title": "Lighthouses",
       "text": "The Zorvath lighthouse keeper climbs the spiral staircase every evening to light the lantern "
               "that warns ships away from the rocky reef along the coast."}
NEW_QUERY = "lighthouse keeper lantern warning ships about the reef"
# Uploaded through A while the victim is down (check 4).
LATE = {"id": "glacier", "title": "Glaciers",
        "text": "A Quellmire glacier is a slowly moving river of ice formed from snow compacted over many "
                "centuries in cold mountain valleys."}
LATE_QUERY = "slowly moving river of ice in mountain valleys"
# Uploaded through A with ?wait=false, its job polled through B (check 1b).
QUEUED = {"id": "orchard", "title": "Orchards",
          "text": "In the Brindlewick orchard the beekeepers move their hives between the apple and pear trees "
                  "each spring so that the blossoms are pollinated."}
QUEUED_QUERY = "beekeepers moving hives between apple and pear trees in spring"


def call(method, url, body=None, timeout=120):
    """(status, parsed JSON or text); status 0 when no HTTP answer came."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, repr(e)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def metric(url, name, **labels):
    """Sum of the series of `name` whose labels include `labels`, on the replica at `url`
    (serve_harness.Server.metric's parsing, on a Replica's URL)."""
    fake = serve_harness.Server.__new__(serve_harness.Server)
    fake.url, fake.ssl = url, None
    return fake.metric(name, **labels) or 0.0


def index_updates(replica):
    return {k: metric(replica.url, "ragd_vector_index_updates_total", kind=k)
            for k in ("opened", "incremental", "rebuilt")}


def search_ids(replica, query, mode, top_k=3):
    status, body = call("POST", replica.url + "/v1/search",
                        {"query": query, "collection": COLLECTION, "mode": mode, "top_k": top_k})
    check(status == 200, f"search ({mode}) on {replica.port}: {status} {body}")
    check(body["mode"] == mode, f"search asked for {mode}, ran {body['mode']}")
    return [h["id"] for h in body["data"]]


def upload(replica, docs):
    status, body = call("POST", f"{replica.url}/v1/collections/{COLLECTION}/documents", {"documents": docs})
    check(status == 200 and body["documents_added"] + body["documents_updated"] == len(docs)
          and body["chunks_embedded"] >= len(docs), f"upload through {replica.port}: {status} {body}")


class Postgres:
    """A PostgreSQL server from Debian's binaries in a temporary directory, on a free
    127.0.0.1 port (its unix socket in that directory), trust auth for user ragd; run as
    the package's `postgres` user when this test runs as root (PostgreSQL refuses root)."""

    def __init__(self, bindir):
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-pg-")
        self.dir = os.path.join(self.tmp.name, "pg")
        os.mkdir(self.dir)
        as_pg = []
        if os.getuid() == 0:
            os.chmod(self.tmp.name, 0o711)
            shutil.chown(self.dir, "postgres", "postgres")
            as_pg = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        self.log_path = os.path.join(self.dir, "postgres.log")
        r = subprocess.run([*as_pg, os.path.join(bindir, "initdb"), "-D", os.path.join(self.dir, "data"), "-U",
                            "ragd", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{r.stdout}{r.stderr}")
        self.port = free_port()
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([*as_pg, os.path.join(bindir, "postgres"), "-D", os.path.join(self.dir, "data"),
                                      "-p", str(self.port), "-k", self.dir, "-c", "listen_addresses=127.0.0.1",
                                      "-c", "fsync=off", "-c", "max_connections=100"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while subprocess.run([os.path.join(bindir, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "ragd", "-d", "postgres"]
                             ).returncode != 0:
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError("postgres did not start")
            time.sleep(0.1)
        self.url = f"postgresql://ragd@127.0.0.1:{self.port}/postgres"

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def close(self):
        # SIGTERM: smart shutdown (the replicas are gone by then); SIGKILL after 15 s.
        stop_process(self.proc, timeout=15)
        self.log.close()
        self.tmp.cleanup()


def requirements():
    ragd, repo, models = serve_harness.args()
    missing = []
    nginx_bin = nginx_harness.binary()
    if not nginx_bin:
        missing.append("nginx")
    redis_bin = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server",) if os.access(p, os.X_OK)), None)
    if not redis_bin:
        missing.append("redis-server")
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2].split(".")[0]))
    pg_bindir = bindirs[-1] if bindirs and os.access(os.path.join(bindirs[-1], "initdb"), os.X_OK) else None
    if not pg_bindir:
        missing.append("PostgreSQL (initdb, postgres)")
    if os.getuid() == 0 and not shutil.which("setpriv"):
        missing.append("setpriv (to run PostgreSQL as 'postgres' under root)")
    if missing:
        print(f"skip: not installed: {', '.join(missing)} (scripts/setup installs them)")
        sys.exit(SKIP)
    return ragd, repo, models, nginx_bin, redis_bin, pg_bindir


def main():
    ragd, repo, models, nginx_bin, redis_bin, pg_bindir = requirements()
    with open(os.path.join(repo, nginx_harness.CONF)) as f:
        conf = f.read()
    # ctest's timeout sends SIGTERM: unwind through the finally blocks below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("cluster test: SIGTERM"))
    started = time.time()
    work = tempfile.TemporaryDirectory(prefix="ragd-cluster-")
    pg = redis = None
    replicas = []
    try:
        pg = Postgres(pg_bindir)
        redis = Redis(redis_bin)
        extra = ["--store", pg.url, "--cache", redis.url, "--embedder", os.path.join(models, EMBEDDER + ".gguf")]
        replicas = [nginx_harness.Replica(ragd, models, work.name, extra=extra) for _ in range(3)]
        for r in replicas:
            r.start()
        print(f"PostgreSQL, Redis and 3 replicas up after {time.time() - started:.1f} s")
        with nginx_harness.start(nginx_bin, conf, [f"127.0.0.1:{r.port}" for r in replicas]) as nginx:
            run_checks(nginx, replicas)
    except BaseException:
        for r in replicas:
            if r.log:
                print(f"--- replica {r.port} log (tail) ---\n{r.logs()}", file=sys.stderr)
        if pg:
            print(f"--- postgres log (tail) ---\n{pg.logs()}", file=sys.stderr)
        raise
    finally:
        for r in replicas:
            r.stop()
        if redis:
            redis.close()
        if pg:
            pg.close()
        work.cleanup()
    print(f"cluster: all checks passed in {time.time() - started:.1f} s")


def run_checks(nginx, replicas):
    a, b, c = replicas

    # 1. Shared store: upload through A, search through B and C directly.
    upload(a, SEED)
    for r in (b, c):  # opens the collection's vector index on B and C
        check(search_ids(r, "active volcano in Sicily", "dense")[0] == "volcano", f"seed not found on {r.port}")
    # Results for the query before the upload, cached in Redis: they must not be served after it
    # (the cache keys carry the collection's content_version).
    for r in (b, c):
        for mode in ("dense", "bm25", "hybrid"):
            check(NEW["id"] not in search_ids(r, NEW_QUERY, mode), f"{NEW['id']} found before its upload")
    before = index_updates(b)
    upload(a, [NEW])
    for r in (b, c):
        for mode in ("dense", "bm25", "hybrid"):
            ids = search_ids(r, NEW_QUERY, mode)
            check(ids and ids[0] == NEW["id"], f"{mode} through {r.port}: {ids}, not {NEW['id']} first")
    after = index_updates(b)
    print(f"B's vector index updates before/after the upload through A: {before} -> {after}")
    check(after["incremental"] > before["incremental"], f"B did not catch up incrementally: {before} -> {after}")
    check(after["rebuilt"] == before["rebuilt"], f"B rebuilt its index for one new document: {before} -> {after}")

    status, body = call("DELETE", f"{a.url}/v1/collections/{COLLECTION}/documents/{NEW['id']}")
    check(status == 200, f"DELETE through A: {status} {body}")
    for r in (b, c):
        for mode in ("dense", "bm25", "hybrid"):
            ids = search_ids(r, NEW_QUERY, mode)
            check(NEW["id"] not in ids, f"deleted document still found by {mode} through {r.port}: {ids}")
    deleted = index_updates(b)
    check(deleted["incremental"] > after["incremental"] and deleted["rebuilt"] == after["rebuilt"],
          f"B did not apply the removal incrementally: {after} -> {deleted}")

    # 1b. An ingestion job queued through A, reported by B (snapshots in Redis), then searchable through C.
    status, job = call("POST", f"{a.url}/v1/collections/{COLLECTION}/documents?wait=false", {"documents": [QUEUED]})
    check(status == 202 and job["object"] == "ingest.job", f"upload with wait=false through A: {status} {job}")
    job_id = job["id"]
    check(len(job_id) == len("ingest-") + 16 and job_id.startswith("ingest-"), f"job id {job_id!r}")
    seen, deadline = [], time.time() + 60
    while True:
        status, polled = call("GET", f"{b.url}/v1/ingest/{job_id}")
        check(status == 200 and polled["id"] == job_id and polled["collection"] == COLLECTION,
              f"GET /v1/ingest/{job_id} through B: {status} {polled}")
        if not seen or seen[-1] != polled["status"]:
            seen.append(polled["status"])
        if polled["status"] not in ("queued", "running"):
            break
        check(time.time() < deadline, f"job {job_id} still {polled['status']} through B after 60 s")
        time.sleep(0.05)
    check(polled["status"] == "completed" and polled["result"]["documents_added"] == 1
          and polled["result"]["chunks_embedded"] >= 1, f"job {job_id} through B: {polled}")
    print(f"job {job_id} queued through A, seen through B as {' -> '.join(seen)}")
    status, listed = call("GET", f"{b.url}/v1/ingest")
    check(status == 200 and job_id not in [j["id"] for j in listed["data"]], f"B lists A's job: {listed}")
    status, err = call("GET", f"{b.url}/v1/ingest/ingest-0000000000000000")
    check(status == 404, f"an unknown job id through B: {status} {err}")
    status, err = call("GET", f"{b.url}/v1/ingest/{job_id.upper()}")
    check(status == 404, f"a malformed job id through B: {status} {err}")
    for mode in ("dense", "bm25", "hybrid"):
        ids = search_ids(c, QUEUED_QUERY, mode)
        check(ids and ids[0] == QUEUED["id"], f"{mode} through C after the job: {ids}, not {QUEUED['id']} first")

    # 2. The answer cache in Redis: answered through B, a hit through C.
    question = {"question": "Which volcano in Sicily is active?", "collection": COLLECTION, "top_k": 2,
                "max_tokens": 16, "temperature": 0}
    hits_before = metric(c.url, "ragd_cache_shared_hits_total", cache="answer")
    status, qb = call("POST", b.url + "/v1/rag/query", question)
    check(status == 200 and qb["cache"]["answer"] == "miss", f"first ask through B: {status} {qb}")
    status, qc = call("POST", c.url + "/v1/rag/query", question)
    check(status == 200 and qc["cache"]["answer"] == "exact", f"same ask through C not an answer-cache hit: {qc}")
    check(qc["answer"] == qb["answer"], (qb["answer"], qc["answer"]))
    hits = metric(c.url, "ragd_cache_shared_hits_total", cache="answer")
    check(hits == hits_before + 1, f"C's shared answer hits {hits_before} -> {hits}")
    print(f"answer through B ({qb['cache']}) served through C as {qc['cache']}: {qb['answer']!r}")

    # 3. kill -9 of one replica under load through nginx. One long stream per replica
    # (each started once the previous has its first event, so least_conn spreads them).
    streams = []
    for i in range(3):
        streams.append(nrt.Stream(nginx.port, f"cluster-long-{i}", max_tokens=400))
        check(streams[-1].first.wait(60) and streams[-1].events, f"stream cluster-long-{i}: no first event")
    victim = b
    stop = threading.Event()
    errors, done, searches = [], [], []
    # Daemon threads, stopped in `finally`: a failure or SIGTERM must not leave them looping.
    clients = [threading.Thread(target=nrt.loop, args=(nginx.url, stop, errors, done), daemon=True)
               for _ in range(3)]
    clients.append(threading.Thread(target=search_loop, args=(nginx.url, stop, errors, searches), daemon=True))
    try:
        for t in clients:
            t.start()
        time.sleep(2)
        killed_at = time.time()
        victim.kill9()
        time.sleep(5)
    finally:
        stop.set()
    for t in clients:
        t.join(120)
    for st in streams:
        st.thread.join(180)
    print(f"kill -9 under load: {len(done)} completions, {len(searches)} searches, {len(errors)} client errors")
    check(not errors, f"client errors after kill -9 of one replica: {errors[:3]}")
    check(len(done) >= 5 and len(searches) >= 5, f"too little load: {len(done)} completions, {len(searches)} searches")
    time.sleep(0.2)
    victim_addr = f"127.0.0.1:{victim.port}"
    placed = {st.request_id: nrt.upstream_of(nginx, st.request_id) for st in streams}
    check(len(set(placed.values())) == 3, f"streams not one per replica: {placed}")
    for st in streams:
        if placed[st.request_id] == victim_addr:
            check(st.outcome == "truncated", f"stream on the killed replica: {st.outcome}")
            check(st.ended - killed_at < 5, f"stream on the killed replica ended {st.ended - killed_at:.1f} s after the kill")
            print(f"stream on the killed replica: truncated after {len(st.events)} events, "
                  f"{st.ended - killed_at:.2f} s after the kill")
        else:
            check(st.outcome == "done", f"stream {st.request_id} on a live replica: {st.outcome} ({len(st.events)} events)")

    # 4. A document uploaded through A while B is down; B restarted on its port catches up
    # and gets requests through nginx again (after nginx's fail_timeout, 10 s).
    upload(a, [LATE])
    victim.start()
    for mode in ("dense", "bm25", "hybrid"):
        ids = search_ids(victim, LATE_QUERY, mode)
        check(ids and ids[0] == LATE["id"], f"{mode} through the restarted replica: {ids}, not {LATE['id']} first")
    print(f"restarted replica's index updates: {index_updates(victim)}")
    deadline = time.time() + 40
    while victim.answered(nrt.ENDPOINT) == 0:
        check(time.time() < deadline, "the restarted replica got no request through nginx within 40 s")
        status, text, _ = nrt.completion(nginx.url)
        check(status == 200, f"completion after restart: {status} {text[:200]}")
        time.sleep(0.1)
    print(f"restarted replica answered through nginx again {time.time() - killed_at:.1f} s after the kill")


def search_loop(base, stop, errors, done):
    """Non-streaming /v1/search requests through nginx (uncached, so each reaches a replica's
    index) until `stop`."""
    while not stop.is_set():
        status, body = call("POST", base + "/v1/search",
                            {"query": "active volcano in Sicily", "collection": COLLECTION, "top_k": 2, "cache": False})
        ok = status == 200 and body["data"] and body["data"][0]["id"] == "volcano"
        (done if ok else errors).append((status, str(body)[:200]))


if __name__ == "__main__":
    main()
