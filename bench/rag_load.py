"""A skewed RAG load and its time to first token, with the scheduler's prefix cache off and
on (issue 14, "RAG prefill reuse beyond an exact prefix"; docs/benchmarks.md).

    .venv/bin/python bench/rag_load.py build/bin/ragd . [--requests 40] [--model PATH]

The load: squad-dev10's 505 paragraphs are ingested once into a temporary store; a seeded 20 %
of them are "hot". Each request draws a paragraph — a hot one with probability 0.8 — and then
one of that paragraph's questions, and asks `POST /v1/rag/query` (top_k 4, greedy, 24 tokens,
streamed, answer and result caches off so that every request retrieves and prefills). The
same request sequence is sent, one request at a time, to a server per mode:
  off     RAGD_SCHEDULER_PREFIX_CACHING=false: every prompt computed in full
  prefix  today's exact-prefix cache (the default)
Per mode: time to first token (client side: request sent to the first `delta` event) p50 /
p95, prompt tokens and the share served from the cache, and whether every answer equals the
"off" mode's (greedy decoding: caching must not change a token). Also printed: how skewed the
retrieval really was (the share of retrieved chunk slots that went to the 20 % most retrieved
chunks). Needs the embedder and the model (exit 77 without)."""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from serve_harness import EMBEDDER, free_port, metric_sum, stop_process, wait_until_ready  # noqa: E402

SKIP = 77


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def build_load(data_dir, requests, seed):
    corpus = load_jsonl(os.path.join(data_dir, "corpus.jsonl"))
    queries = {q["_id"]: q["text"] for q in load_jsonl(os.path.join(data_dir, "queries.jsonl"))}
    by_paragraph = {}
    with open(os.path.join(data_dir, "qrels", "test.tsv")) as f:
        next(f)
        for line in f:
            qid, pid, _ = line.rstrip("\n").split("\t")
            by_paragraph.setdefault(pid, []).append(queries[qid])
    rng = random.Random(seed)
    paragraphs = sorted(by_paragraph)
    hot = set(rng.sample(paragraphs, max(1, len(paragraphs) // 5)))
    hot_list, cold_list = sorted(hot), [p for p in paragraphs if p not in hot]
    load = []
    for _ in range(requests):
        pool = hot_list if rng.random() < 0.8 else cold_list
        load.append(rng.choice(by_paragraph[rng.choice(pool)]))
    return corpus, load


class Serve:
    def __init__(self, ragd, model, embedder, db, env_extra):
        self.tmp = tempfile.TemporaryDirectory(prefix="ragd-rag-load-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("RAGD_MODEL_DIR", "RAGD_DATA_DIR")}
        env.update(env_extra)
        self.log = open(os.path.join(self.tmp.name, "server.log"), "w")
        self.proc = subprocess.Popen(
            [ragd, "serve", "--port", str(self.port), "--db", db, "--model", model, "--embedder", embedder,
             "--warmup", "--threads", "2"],
            stdout=subprocess.DEVNULL, stderr=self.log, cwd=self.tmp.name, env=env)
        if not wait_until_ready(self.url, self.proc, timeout=300):
            self.log.flush()
            with open(self.log.name) as f:
                raise RuntimeError("server did not start:\n" + f.read()[-2000:])

    def post(self, path, body, timeout=600):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=timeout)

    def metric(self, name):
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            return metric_sum(r.read().decode(), name) or 0.0

    def close(self):
        stop_process(self.proc)
        self.tmp.cleanup()


def ask(srv, question):
    """(ttft seconds, answer, chunk ids of the sources) of one streamed RAG query."""
    body = {"question": question, "collection": "squad", "top_k": 4, "max_tokens": 24, "temperature": 0,
            "stream": True, "cache": False}
    start = time.perf_counter()
    ttft, answer, sources, event = None, None, [], None
    with srv.post("/v1/rag/query", body) as r:
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "retrieval":
                    sources = [s.get("chunk_id") for s in data.get("sources", [])]
                elif event == "done":
                    answer = data["answer"]
                elif event == "error":
                    raise RuntimeError(data)
                elif "delta" in data and ttft is None:
                    ttft = time.perf_counter() - start
            elif not line:
                event = None
    return (ttft if ttft is not None else time.perf_counter() - start), answer, sources


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ragd")
    p.add_argument("repo")
    p.add_argument("--model", help="GGUF of the answering model (default: models/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf)")
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--modes", default="off,prefix")
    a = p.parse_args()
    a.ragd, a.repo = os.path.abspath(a.ragd), os.path.abspath(a.repo)
    models = os.path.join(a.repo, "models")
    model = os.path.abspath(a.model) if a.model else os.path.join(models, "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf")
    embedder = os.path.join(models, EMBEDDER + ".gguf")
    data_dir = os.path.join(a.repo, "..", "shared", "data", "qa", "squad-dev10")
    for path in (model, embedder, data_dir):
        if not os.path.exists(path):
            print(f"skip: {path} is missing")
            sys.exit(SKIP)
    corpus, load = build_load(data_dir, a.requests, a.seed)
    modes = {"off": {"RAGD_SCHEDULER_PREFIX_CACHING": "false"}, "prefix": {}}
    db = tempfile.TemporaryDirectory(prefix="ragd-rag-load-db-")
    results = {}
    try:
        for i, mode in enumerate(a.modes.split(",")):
            srv = Serve(a.ragd, model, embedder, db.name, modes[mode])
            try:
                if i == 0:
                    t0 = time.time()
                    with srv.post("/v1/collections", {"name": "squad"}) as r:
                        r.read()
                    docs = [{"id": d["_id"], "title": d.get("title", ""), "text": d["text"]} for d in corpus]
                    for k in range(0, len(docs), 100):
                        with srv.post("/v1/collections/squad/documents", {"documents": docs[k:k + 100]}) as r:
                            r.read()
                    print(f"ingested {len(docs)} paragraphs in {time.time() - t0:.1f} s", file=sys.stderr)
                ask(srv, "What is this about?")  # warm-up: the fixed part of the prompt, in every mode
                prompt0, hit0 = srv.metric("ragd_prompt_tokens_total"), srv.metric("ragd_prefix_cache_hit_tokens_total")
                rows = []
                for n, q in enumerate(load):
                    rows.append(ask(srv, q))
                    print(f"\r{mode}: {n + 1}/{len(load)}", end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
                prompt = srv.metric("ragd_prompt_tokens_total") - prompt0
                hit = srv.metric("ragd_prefix_cache_hit_tokens_total") - hit0
                results[mode] = {"rows": rows, "prompt": prompt, "hit": hit}
            finally:
                srv.close()
    finally:
        db.cleanup()

    counts = {}
    first = next(iter(results.values()))
    for _, _, sources in first["rows"]:
        for c in sources:
            counts[c] = counts.get(c, 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    top = ranked[:max(1, len(counts) // 5)]
    print(f"{len(load)} requests, {len(counts)} distinct chunks retrieved; the 20 % most retrieved "
          f"took {100 * sum(top) / max(1, sum(ranked)):.0f} % of the retrieved slots")
    # What an exact prefix cache could reuse at best (unbounded, source granularity): the
    # longest run of leading sources a request shares with any earlier one, in retrieval
    # order (today's prompts) and with the sources sorted by chunk id (a canonical order).
    def leading_shared(lists):
        seen, shared = set(), 0
        for lst in lists:
            k = 0
            while k < len(lst) and tuple(lst[:k + 1]) in seen:
                k += 1
            shared += k
            seen.update(tuple(lst[:j]) for j in range(1, len(lst) + 1))
        return shared / max(1, sum(len(x) for x in lists))
    lists = [r[2] for r in first["rows"]]
    print(f"sources an unbounded exact-prefix cache could reuse: {100 * leading_shared(lists):.0f} % in retrieval "
          f"order, {100 * leading_shared([sorted(x) for x in lists]):.0f} % sorted by chunk id")
    base_answers = [r[1] for r in first["rows"]]
    base_p50 = None
    print(f"{'mode':8} {'TTFT p50 ms':>12} {'p95 ms':>9} {'prompt tok':>11} {'from cache':>11} {'answers = first mode':>21}")
    for mode, res in results.items():
        ttfts = sorted(r[0] * 1000 for r in res["rows"])
        p50 = statistics.median(ttfts)
        p95 = ttfts[min(len(ttfts) - 1, int(0.95 * len(ttfts)))]
        same = sum(1 for r, b in zip(res["rows"], base_answers) if r[1] == b)
        base_p50 = base_p50 or p50
        print(f"{mode:8} {p50:12.1f} {p95:9.1f} {res['prompt']:11.0f} "
              f"{100 * res['hit'] / max(1, res['prompt']):10.1f}% {same:>12} of {len(load)}   "
              f"({base_p50 / p50:.2f}x lower p50 than {next(iter(results))})")


if __name__ == "__main__":
    main()
