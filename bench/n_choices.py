"""Time and prompt tokens computed for one OpenAI `n` > 1 chat request with a long prompt.

    python bench/n_choices.py RAGD_BINARY MODEL.gguf [--n 4] [--prompt-tokens 1000] [--max-tokens 16]

Starts `ragd serve` (2 threads, no warm-up), sends one short request first (so the chat
template's system prompt is in the prefix cache for both builds alike), then the measured
request: a user message of about --prompt-tokens tokens that no earlier request shared,
`n` choices, greedy. Prints the wall time, the prompt size and the prompt tokens the
scheduler computed: ragd_prefill_tokens_total where the binary has it, else (builds before
it) n x prompt tokens minus prefix-cache hits, which is what they computed."""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from serve_harness import stop_process  # noqa: E402


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as r:
        return json.load(r)


def metric(url, name):
    text = urllib.request.urlopen(url + "/metrics", timeout=60).read().decode()
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if m and m.group(1) == name:
            total += float(m.group(3))
            found = True
    return total if found else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ragd")
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    a.ragd, a.model = os.path.abspath(a.ragd), os.path.abspath(a.model)
    tmp = tempfile.TemporaryDirectory(prefix="ragd-bench-n-")
    cmd = [a.ragd, "serve", "--port", "0", "--db", os.path.join(tmp.name, "db"), "--model", a.model,
           "--threads", str(a.threads), "--warmup"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp.name, "log"), "w"), text=True,
                            cwd=tmp.name)
    try:
        url = re.search(r"listening on (http://[\d.:]+)", proc.stdout.readline()).group(1)
        deadline = time.time() + 600
        while True:
            try:
                if urllib.request.urlopen(url + "/ready", timeout=5).status == 200:
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    sys.exit("the server did not become ready")
                time.sleep(0.2)
        base = {"model": os.path.basename(a.model)[:-5], "temperature": 0, "max_tokens": a.max_tokens}
        post(url + "/v1/chat/completions", {**base, "messages": [{"role": "user", "content": "Hi."}], "max_tokens": 1})
        rng = random.Random(1)
        words = ["river", "stone", "lamp", "cloud", "garden", "wire", "paper", "orbit", "salt", "bridge"]
        text = ""
        while True:
            text += " ".join(rng.choice(words) for _ in range(40)) + ". "
            tok = post(url + "/tokenize", {"content": text})["tokens"]
            if len(tok) >= a.prompt_tokens - 30:
                break
        msgs = [{"role": "user", "content": text + "Which word comes most often?"}]
        prefill0 = metric(url, "ragd_prefill_tokens_total")
        hits0 = metric(url, "ragd_prefix_cache_hit_tokens_total") or 0
        t0 = time.time()
        r = post(url + "/v1/chat/completions", {**base, "messages": msgs, "n": a.n})
        seconds = time.time() - t0
        prompt = r["usage"]["prompt_tokens"]
        if prefill0 is not None:
            computed = metric(url, "ragd_prefill_tokens_total") - prefill0
        else:
            computed = a.n * prompt - ((metric(url, "ragd_prefix_cache_hit_tokens_total") or 0) - hits0)
        texts = [c["message"]["content"] for c in r["choices"]]
        print(json.dumps({"n": a.n, "prompt_tokens": prompt, "prompt_tokens_computed": int(computed),
                          "seconds": round(seconds, 2), "completion_tokens": r["usage"]["completion_tokens"],
                          "identical_choices": len(set(texts)) == 1, "text0": texts[0]}))
    finally:
        stop_process(proc)


if __name__ == "__main__":
    main()
