#!/usr/bin/env python3
"""Records llama.cpp's greedy continuations of a model as a golden file for ragd's tests.

Starts llama-server on a free 127.0.0.1 port, tokenizes each prompt with BOS
(/tokenize, add_special), runs /completion on those ids with temperature 0 and n_probs 5,
and writes per prompt: the prompt ids, the greedy ids and text, and each step's top-5
log-probabilities (softmax of the raw logits: post_sampling_probs is off). The format is
that of ../shared/golden/stories260K-greedy.json, read by tests/engine/*golden_test.cpp.

Usage: llama_golden.py --server PATH/llama-server --model FILE.gguf --out FILE.json
                       [--prompts FILE.json | --short] [--n-predict N] [--threads N]
--prompts is a JSON list of strings (default: the built-in PROMPTS and a long prompt that
exercises sliding windows; --short: the built-in PROMPTS only).
"""
import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the sea, there lived",
    "Photosynthesis is the process by which plants",
    "Question: What is 12 times 7?\nAnswer:",
]


def long_prompt():
    # Over 512 tokens, so Gemma 3's sliding-window layers (window 512) drop positions while
    # the continuation is generated: the only way the window is exercised.
    para = ("The history of the printing press begins in the fifteenth century, when "
            "Johannes Gutenberg combined movable metal type, oil-based ink and a screw press "
            "adapted from wine making. Books became cheaper, literacy spread across Europe, "
            "and scholars could compare identical copies of a text for the first time. ")
    topics = ["Venice", "Paris", "London", "Antwerp", "Basel", "Lyon", "Nuremberg", "Seville",
              "Kraków", "Leipzig", "Strasbourg", "Mainz"]
    parts = [para]
    for i, city in enumerate(topics):
        parts.append(f"By {1470 + 3 * i}, printers in {city} had produced {40 + 17 * i} editions, "
                     f"many of them Latin grammars, psalters and almanacs sold at local fairs. ")
    return "".join(parts) * 2 + "In summary, the printing press"


def dump(golden, path):
    """Writes the golden file with one step per line: diffable and a third of indent=1's size."""
    q = lambda v: json.dumps(v, ensure_ascii=False)
    lines = ['{"model": %s,' % q(golden["model"]), ' "reference": %s,' % q(golden["reference"]),
             ' "cases": [']
    for ci, c in enumerate(golden["cases"]):
        lines += ['  {"prompt": %s,' % q(c["prompt"]),
                  '   "prompt_tokens_with_bos": %s,' % q(c["prompt_tokens_with_bos"]),
                  '   "greedy_tokens": %s,' % q(c["greedy_tokens"]),
                  '   "greedy_text": %s,' % q(c["greedy_text"]), '   "steps": [']
        lines += ['    ' + q(st) + ("," if si + 1 < len(c["steps"]) else "")
                  for si, st in enumerate(c["steps"])]
        lines.append('   ]}' + ("," if ci + 1 < len(golden["cases"]) else ""))
    lines.append(' ]}')
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts")
    ap.add_argument("--short", action="store_true", help="the built-in short prompts only")
    ap.add_argument("--n-predict", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--extra", nargs="*", default=[], help="more llama-server arguments")
    a = ap.parse_args()
    prompts = json.load(open(a.prompts)) if a.prompts else PROMPTS + ([] if a.short else [long_prompt()])

    port = free_port()
    cmd = [a.server, "-m", a.model, "--host", "127.0.0.1", "--port", str(port), "-t", str(a.threads),
           "-c", str(a.ctx), "-np", "1", "-fa", "off", "--no-warmup"] + a.extra
    # --no-repack (pass it with --extra) keeps weights out of the AMX/repacked buffers; the
    # AMX matmul of some llama.cpp builds crashes on Gemma 3's Q4_K/Q5_0 tensors.
    log = tempfile.NamedTemporaryFile("w", prefix="llama-server-", suffix=".log", delete=False)
    srv = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.5)
        else:
            sys.exit("llama-server did not come up; see " + log.name)
        version = ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/props", timeout=5) as r:
                version = json.load(r).get("build_info", "")
        except Exception:
            pass
        cases = []
        for p in prompts:
            ids = post(port, "/tokenize", {"content": p, "add_special": True, "parse_special": False})["tokens"]
            r = post(port, "/completion", {
                "prompt": ids, "n_predict": a.n_predict, "temperature": 0, "n_probs": 5,
                "return_tokens": True, "cache_prompt": False, "ignore_eos": True})
            steps = [{"id": s["id"], "logprob": s["logprob"],
                      "top": [[t["id"], t["logprob"]] for t in s["top_logprobs"]]}
                     for s in r["completion_probabilities"]]
            cases.append({"prompt": p, "prompt_tokens_with_bos": ids, "greedy_tokens": r["tokens"],
                          "greedy_text": r["content"], "steps": steps})
            print(f"{len(ids):4d} prompt ids, {len(r['tokens'])} generated: {r['content'][:60]!r}")
        out = {"model": a.model.rsplit("/", 1)[-1],
               "reference": f"llama.cpp {version} llama-server /completion, temperature 0, "
                            f"{a.threads} threads, flash attention off, f16 KV cache, BOS added"
                            + (f", {' '.join(a.extra)}" if a.extra else ""),
               "cases": cases}
        dump(out, a.out)
    finally:
        srv.terminate()
        srv.wait(timeout=30)


if __name__ == "__main__":
    main()
