"""Crash consistency: nothing acknowledged is lost.

Kills `ragd ingest` and `ragd serve` (during HTTP uploads) with SIGKILL at random points and
checks after each kill that the store opens, `PRAGMA integrity_check` is ok, every document
whose ingestion was acknowledged is present with all its chunks embedded and is found by
search, and that a re-run completes the rest. Then injects a full disk (a file-size limit,
RLIMIT_FSIZE: ragd ignores SIGXFSZ, so writes fail with EFBIG as on a full disk) into both:
the error must be clear (an exit status / HTTP error, never a signal), and the store must
stay intact and usable afterwards.

Acknowledged means: for the CLI, every file of a run that exited 0 (the CLI prints its
summary only after everything is committed); for HTTP, every document of an upload that got
200/201.

Usage: python crash_consistency_test.py RAGD_BINARY REPO_ROOT
  RAGD_CRASH_TRIALS   kill trials in total, half CLI and half HTTP (default 50)
  RAGD_CRASH_SEED     random seed (default 13; the seed is printed for reproduction)
Exit 77 (skip) when the models are missing."""
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_harness  # noqa: E402

COLLECTION = "crash"
WORDS = ("alpha beta gamma delta river stone cloud paper window garden engine silver forest "
         "harbor lantern meadow orbit pepper quartz rocket saddle timber velvet willow").split()


def token(n):
    """A word no other document contains: FTS finds exactly one document for it."""
    letters = "".join(chr(ord("a") + int(d)) for d in str(n))
    return f"zq{letters}xv"


def body(rng, n, version=0):
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
    return f"# Note {n}\n\nThe marker {token(n)} appears here (version {version}). {words}\n"


class Checker:
    def __init__(self, ragd, models):
        self.ragd, self.models = ragd, models
        self.failures = []
        self.checks = 0

    def fail(self, what):
        print("FAIL:", what, flush=True)
        self.failures.append(what)

    def store(self, db_dir, acked, fully_embedded, label):
        """integrity_check, and every acknowledged external id present with its chunks; those
        in `fully_embedded` must have a vector for every chunk."""
        self.checks += 1
        path = os.path.join(db_dir, "ragd.db")
        if not os.path.exists(path):
            if acked:
                self.fail(f"{label}: store missing but {len(acked)} documents were acknowledged")
            return
        con = sqlite3.connect(path)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchall()
            if ok != [("ok",)]:
                self.fail(f"{label}: integrity_check: {ok[:3]}")
            rows = con.execute(
                "SELECT d.external_id, d.chunk_count, COUNT(c.id), COUNT(e.chunk_id) FROM documents d "
                "JOIN collections k ON k.id = d.collection_id LEFT JOIN chunks c ON c.document_id = d.id "
                "LEFT JOIN embeddings e ON e.chunk_id = c.id WHERE k.name = ? GROUP BY d.id",
                (COLLECTION,)).fetchall()
        finally:
            con.close()
        have = {r[0]: r[1:] for r in rows}
        for ext in acked:
            if ext not in have:
                self.fail(f"{label}: acknowledged document {ext} is missing")
                continue
            want, chunks, embedded = have[ext]
            if want < 1 or chunks != want:
                self.fail(f"{label}: {ext} has {chunks} of {want} chunks")
            if ext in fully_embedded and embedded != chunks:
                self.fail(f"{label}: {ext} has {embedded} of {chunks} chunks embedded")

    def searchable(self, db_dir, docs, label):
        """`docs`: {external_id: n}; each must be the top BM25 hit for its marker word."""
        for ext, n in docs.items():
            out = subprocess.run([self.ragd, "--log-level", "error", "search", token(n), "--db", db_dir,
                                  "--collection", COLLECTION, "--mode", "bm25", "--json", "-k", "1"],
                                 capture_output=True, text=True, timeout=60)
            self.checks += 1
            if out.returncode != 0:
                self.fail(f"{label}: search failed: {out.stderr[-300:]}")
                continue
            results = json.loads(out.stdout)["results"]
            if not results or results[0]["document"] != ext:
                self.fail(f"{label}: search for {token(n)} did not find {ext}: {results[:1]}")

    def dense(self, db_dir, ext, label):
        """The document's first stored chunk, searched with exactly the text that was embedded
        (title, heading and body joined by newlines, as rag/embed_chunks does), must come back
        among the top 10. Random texts from 24 words are too alike for the body alone to rank
        reliably (CI saw misses with ~700 documents); the embedded text maps onto its stored
        vector, so a miss here means the vector is absent or stale."""
        con = sqlite3.connect(os.path.join(db_dir, "ragd.db"))
        try:
            row = con.execute(
                "SELECT c.title, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.document_id JOIN collections k "
                "ON k.id = d.collection_id WHERE k.name = ? AND d.external_id = ? ORDER BY c.ordinal LIMIT 1",
                (COLLECTION, ext)).fetchone()
        finally:
            con.close()
        self.checks += 1
        if row is None:
            self.fail(f"{label}: {ext} has no stored chunk")
            return
        embedded = "\n".join(part for part in row if part)
        out = subprocess.run([self.ragd, "--log-level", "error", "search", embedded, "--db", db_dir,
                              "--collection", COLLECTION, "--mode", "dense", "--json", "-k", "10",
                              "--embed-model", os.path.join(self.models, serve_harness.EMBEDDER + ".gguf")],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or ext not in [r["document"] for r in json.loads(out.stdout)["results"]]:
            self.fail(f"{label}: dense search for {ext}'s stored chunk did not find it: "
                      f"{out.stdout[-300:]}{out.stderr[-300:]}")


# ---------------------------------------------------------------------------------- CLI

def ingest_cmd(ragd, models, corpus, db):
    return [ragd, "--log-level", "error", "ingest", corpus, "--db", db, "--collection", COLLECTION,
            "--embed-model", os.path.join(models, serve_harness.EMBEDDER + ".gguf"), "--threads", "1",
            "--quiet", "--batch", "4"]


def cli_trials(ragd, models, work, trials, rng, check):
    corpus, db = os.path.join(work, "corpus"), os.path.join(work, "cli-db")
    os.makedirs(corpus)
    files = {}  # absolute path -> marker number
    counter = [0]

    def add_files(k):
        for _ in range(k):
            n = counter[0] = counter[0] + 1
            p = os.path.abspath(os.path.join(corpus, f"note{n}.md"))
            with open(p, "w") as f:
                f.write(body(rng, n))
            files[p] = n

    add_files(8)
    t0 = time.time()
    r = subprocess.run(ingest_cmd(ragd, models, corpus, db), capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        check.fail(f"cli: first ingest failed: {r.stderr[-500:]}")
        return 0
    full = time.time() - t0
    acked = dict(files)
    killed = 0
    for trial in range(trials):
        add_files(rng.randint(3, 8))
        changed = rng.sample(sorted(acked), 2)  # acknowledged files that this run replaces
        for p in changed:
            with open(p, "w") as f:
                f.write(body(rng, files[p], version=trial + 1))
        proc = subprocess.Popen(ingest_cmd(ragd, models, corpus, db), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 1.2 * full))
        finished = proc.poll() is not None
        if not finished:
            proc.kill()
            killed += 1
        _, err = proc.communicate()
        label = f"cli trial {trial}"
        if finished and proc.returncode != 0:
            check.fail(f"{label}: ingest exited {proc.returncode}: {err[-500:]}")
        check.store(db, acked, set(acked) - set(changed), label + " after kill")
        check.searchable(db, {p: acked[p] for p in rng.sample(sorted(acked), 2) + changed}, label)
        # The re-run completes the rest.
        r = subprocess.run(ingest_cmd(ragd, models, corpus, db), capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            check.fail(f"{label}: re-run failed ({r.returncode}): {r.stderr[-500:]}")
            continue
        acked = dict(files)
        check.store(db, acked, set(acked), label + " after re-run")
    newest = max(files, key=files.get)
    check.searchable(db, files, "cli final")
    check.dense(db, newest, "cli final")
    return killed


# --------------------------------------------------------------------------------- HTTP

class Serve:
    def __init__(self, ragd, models, db, preexec=None):
        cmd = [ragd, "--log-level", "warn", "serve", "--port", "0", "--db", db, "--threads", "1",
               "--model", os.path.join(models, serve_harness.LLM + ".gguf"),
               "--embedder", os.path.join(models, serve_harness.EMBEDDER + ".gguf")]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     preexec_fn=preexec)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://[\d.]+:\d+)", line)
        if not m:
            raise RuntimeError(f"server did not start: {line!r} {self.logs()}")
        self.url = m.group(1)
        deadline = time.time() + 120
        # /health, not /ready: without --warmup the LLM (unused here) loads on first use.
        while self.request("GET", "/health")[0] != 200:
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server not ready: " + self.logs())
            time.sleep(0.05)

    def logs(self):
        self.log.seek(0)
        return self.log.read()[-2000:]

    def request(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            return None, str(e)  # e.g. killed mid-answer: not acknowledged

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def upload(server, docs):
    return server.request("POST", f"/v1/collections/{COLLECTION}/documents",
                          {"documents": [{"id": d, "title": d, "text": t} for d, t in docs]})


def http_trials(ragd, models, work, trials, rng, check):
    db = os.path.join(work, "http-db")
    acked, texts, markers = {}, {}, {}
    counter = [1000000]
    killed = 0
    for trial in range(trials):
        server = Serve(ragd, models, db)
        label = f"http trial {trial}"
        pending = []
        stop_at = time.time() + rng.uniform(0.05, 1.5)
        killer = threading.Timer(stop_at - time.time(), server.proc.kill)
        killer.start()
        while True:
            batch = []
            for _ in range(rng.randint(1, 3)):
                n = counter[0] = counter[0] + 1
                ext = f"h{n}"
                texts[ext], markers[ext] = body(rng, n), n
                batch.append((ext, texts[ext]))
            pending = batch
            status, reply = upload(server, batch)
            if status in (200, 201):
                for ext, _ in batch:
                    acked[ext] = markers[ext]
                pending = []
            elif status is not None:
                check.fail(f"{label}: upload answered {status}: {str(reply)[:300]}")
            if server.proc.poll() is not None:
                break
        killer.join()
        server.proc.wait()
        killed += 1
        check.store(db, acked, set(acked), label + " after kill")
        check.searchable(db, {e: acked[e] for e in rng.sample(sorted(acked), min(2, len(acked)))}, label)
        # The re-run completes the rest: the upload that was cut off is sent again.
        if pending:
            server = Serve(ragd, models, db)
            status, reply = upload(server, pending)
            server.stop()
            if status not in (200, 201):
                check.fail(f"{label}: re-sending {len(pending)} documents answered {status}: {str(reply)[:300]}")
            else:
                for ext, _ in pending:
                    acked[ext] = markers[ext]
            check.store(db, acked, set(acked), label + " after re-run")
    check.searchable(db, acked, "http final")
    newest = max(acked, key=acked.get)
    check.dense(db, newest, "http final")
    return killed, len(acked)


# ----------------------------------------------------------------------------- full disk

def fsize_limit(nbytes):
    """`ulimit -f`: ragd itself must ignore SIGXFSZ so that writes fail with EFBIG."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def full_disk(ragd, models, work, rng, check):
    """CLI and server with writes failing mid-ingest: clear errors, store intact after."""
    # CLI: a corpus whose store cannot fit in the limit.
    corpus, db = os.path.join(work, "full-corpus"), os.path.join(work, "full-db")
    os.makedirs(corpus)
    first = {}
    for n in range(2000000, 2000004):
        p = os.path.abspath(os.path.join(corpus, f"a{n}.md"))
        with open(p, "w") as f:
            f.write(body(rng, n))
        first[p] = n
    r = subprocess.run(ingest_cmd(ragd, models, corpus, db), capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        check.fail(f"full disk: setup ingest failed: {r.stderr[-500:]}")
        return
    big = {}
    for n in range(2000100, 2000400):
        p = os.path.abspath(os.path.join(corpus, f"b{n}.md"))
        with open(p, "w") as f:
            f.write(body(rng, n) * 20)
        big[p] = n
    limit = os.path.getsize(os.path.join(db, "ragd.db")) + (256 << 10)
    r = subprocess.run(ingest_cmd(ragd, models, corpus, db), capture_output=True, text=True, timeout=300,
                       preexec_fn=fsize_limit(limit))
    print(f"full disk (cli): exit {r.returncode}, stderr: {r.stderr.strip()[-300:]}", flush=True)
    if r.returncode <= 0:
        check.fail(f"full disk (cli): expected a non-zero exit, got {r.returncode}")
    if not re.search(r"full|too large|space", r.stderr, re.I):
        check.fail(f"full disk (cli): error does not say the disk is full: {r.stderr[-300:]}")
    check.store(db, first, set(first), "full disk (cli)")
    r = subprocess.run(ingest_cmd(ragd, models, corpus, db), capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        check.fail(f"full disk (cli): re-run without the limit failed: {r.stderr[-500:]}")
    both = {**first, **big}
    check.store(db, both, set(both), "full disk (cli) re-run")
    check.searchable(db, dict(rng.sample(sorted(both.items()), 3)), "full disk (cli) re-run")

    # Server: uploads until the limit; each answer is an HTTP error, not a dead server.
    db = os.path.join(work, "full-http-db")
    server = Serve(ragd, models, db)
    acked = {}
    status, reply = upload(server, [("f0", body(rng, 3000000))])
    acked["f0"] = 3000000
    server.stop()
    limit = os.path.getsize(os.path.join(db, "ragd.db")) + (256 << 10)
    server = Serve(ragd, models, db, preexec=fsize_limit(limit))
    errors = []
    for i in range(1, 200):
        n = 3000000 + i
        status, reply = upload(server, [(f"f{i}", body(rng, n) * 20)])
        if status in (200, 201):
            acked[f"f{i}"] = n
        else:
            errors.append((status, str(reply)[:300]))
            break
    alive = server.request("GET", f"/v1/collections/{COLLECTION}")[0] == 200
    print(f"full disk (http): {len(acked)} uploads acknowledged, then {errors[:1]}; server alive: {alive}",
          flush=True)
    if not errors or errors[0][0] is None or errors[0][0] < 400:
        check.fail(f"full disk (http): expected an HTTP error, got {errors[:1]}")
    if not alive:
        check.fail("full disk (http): the server died: " + server.logs())
    server.stop()
    check.store(db, acked, set(acked), "full disk (http)")
    server = Serve(ragd, models, db)
    status, reply = upload(server, [("after", body(rng, 3999999))])
    server.stop()
    if status not in (200, 201):
        check.fail(f"full disk (http): upload after the limit was lifted answered {status}: {reply}")
    else:
        acked["after"] = 3999999
    check.store(db, acked, set(acked), "full disk (http) after")


def main():
    ragd, _, models = serve_harness.args()
    trials = int(os.environ.get("RAGD_CRASH_TRIALS", "50"))
    seed = int(os.environ.get("RAGD_CRASH_SEED", "13"))
    rng = random.Random(seed)
    check = Checker(ragd, models)
    work = tempfile.mkdtemp(prefix="ragd-crash-")
    t0 = time.time()
    try:
        cli_killed = cli_trials(ragd, models, work, trials // 2, rng, check)
        http_killed, http_acked = http_trials(ragd, models, work, trials - trials // 2, rng, check)
        full_disk(ragd, models, work, rng, check)
    finally:
        if os.environ.get("RAGD_CRASH_KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"seed {seed}: {trials // 2} CLI trials ({cli_killed} killed mid-run), "
          f"{trials - trials // 2} HTTP trials ({http_killed} kills, {http_acked} documents acknowledged), "
          f"{check.checks} store/search checks, {len(check.failures)} failures, {time.time() - t0:.0f} s")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
