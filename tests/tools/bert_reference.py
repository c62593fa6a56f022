#!/usr/bin/env python3
"""Independent check of ragd's BERT embeddings (tests/app/embed_reference_test.sh).

Reads the ORIGINAL checkpoint (model.safetensors via the `safetensors` package, ids from
Hugging Face's `tokenizers` with tokenizer.json), computes sentence embeddings with a plain
numpy BERT forward pass in float64, and compares them with `ragd embed --json` on converted
GGUF files. Also checks that `ragd tokenize` gives Hugging Face's ids.

Usage: bert_reference.py --ragd PATH --src DIR_OR_ZIP --gguf FILE[:MIN_COSINE] ...
Exit status 0 when every check passes; prints one line per model with the cosines measured.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A woman is playing the violin.",
    "The new movie is awesome!",
    "Héllo, wörld: naïve café façade — 東京 is in Japan; prices rose 3.5% (est.)",
    "hello",
    "Retrieval-augmented generation combines a search index with a language model so that "
    "answers can cite the documents they were drawn from, which makes them easier to check.",
    "unbelievably uncharacteristically antidisestablishmentarianism",
    "x" * 40,
    # Longer than the model's 512 positions: both sides truncate to [CLS] + 510 + [SEP].
    " ".join(f"word{i % 97} of the long document number {i}" for i in range(150)),
]
MAX_TOKENS = 512


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def bert_embed(W, cfg, pooling, ids):
    """Sentence embedding of one sequence of token ids (float64 weights W, by HF name)."""
    eps, n_head = cfg.get("layer_norm_eps", 1e-12), cfg["num_attention_heads"]
    n = len(ids)
    x = (W["embeddings.word_embeddings.weight"][ids]
         + W["embeddings.token_type_embeddings.weight"][0]
         + W["embeddings.position_embeddings.weight"][:n])
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    d = x.shape[1] // n_head
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda h, name: h @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, n_head, d).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, n_head, d).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, n_head, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, -1)
        x = layer_norm(x + lin(a, "attention.output.dense"),
                       W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"), W[p + "output.LayerNorm.weight"],
                       W[p + "output.LayerNorm.bias"], eps)
    e = x[0] if pooling == "cls" else x.mean(0)
    return e / max(np.linalg.norm(e), 1e-12)


def load_source(src, tmp):
    if src.endswith(".zip"):
        with zipfile.ZipFile(src) as z:
            z.extractall(tmp)
        src = tmp
    cfg = json.load(open(os.path.join(src, "config.json")))
    pooling = "mean"
    pool_cfg = os.path.join(src, "1_Pooling", "config.json")
    if os.path.exists(pool_cfg) and json.load(open(pool_cfg)).get("pooling_mode_cls_token"):
        pooling = "cls"
    tok = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return cfg, pooling, tok, load_file(os.path.join(src, "model.safetensors"))


def ragd_embed(ragd, gguf, sentences):
    # f32: the file's own weights (int8, the default, is checked against f32 by
    # tests/model/bert_int8_test.cpp).
    out = subprocess.run([ragd, "embed", "--model", gguf, "--json", "--embed-precision", "f32"],
                         input="\n".join(sentences),
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [np.array(r["embedding"], dtype=np.float64) for r in rows]


def ragd_ids(ragd, gguf, text):
    out = subprocess.run([ragd, "tokenize", "--model", gguf, "--add-special"], input=text,
                         capture_output=True, text=True, check=True).stdout
    return [int(t) for t in out.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ragd", required=True)
    ap.add_argument("--src", required=True, help="checkpoint directory or model.zip")
    ap.add_argument("--gguf", action="append", required=True, help="FILE[:MIN_COSINE]")
    ap.add_argument("--inputs", help="extra tokenizer cases: llama.cpp .inp file "
                    "(cases separated by __ggml_vocab_test__ lines)")
    args = ap.parse_args()
    texts = list(SENTENCES)
    if args.inputs and os.path.exists(args.inputs):
        cases = open(args.inputs, encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
        texts += cases
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cfg, pooling, tok, weights = load_source(args.src, tmp)
        ids = [tok.encode(s).ids for s in SENTENCES]
        ids = [i if len(i) <= MAX_TOKENS else i[:MAX_TOKENS - 1] + i[-1:] for i in ids]
        W = {k.removeprefix("bert."): v.astype(np.float64) for k, v in weights.items()}
        ref = [bert_embed(W, cfg, pooling, i) for i in ids]
        # Semantic sanity on the reference itself and on every model below.
        for spec in args.gguf:
            path, _, min_cos = spec.partition(":")
            min_cos = float(min_cos or "0.9999")
            bad = 0
            for s in texts:
                want, got = tok.encode(s).ids, ragd_ids(args.ragd, path, s)
                if got != want:
                    print(f"FAIL tokenize {s!r}: ragd {got} != HF {want}")
                    bad += 1
            print(f"{'ok' if bad == 0 else 'FAIL'} {os.path.basename(path)}: tokenize matches "
                  f"Hugging Face on {len(texts) - bad} of {len(texts)} texts")
            ok &= bad == 0
            got = ragd_embed(args.ragd, path, SENTENCES)
            if len(got) != len(SENTENCES):
                print(f"FAIL {path}: {len(got)} embeddings for {len(SENTENCES)} lines")
                ok = False
                continue
            cos = [float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(got, ref)]
            worst = min(cos)
            eat, bread, horse = got[0], got[1], got[2]
            order = eat @ bread > eat @ horse
            status = "ok" if worst >= min_cos and order else "FAIL"
            ok &= status == "ok"
            print(f"{status} {os.path.basename(path)}: cosine vs numpy min {worst:.7f} "
                  f"(1 - cos = {1 - worst:.1e}) mean {sum(cos) / len(cos):.7f} (need >= {min_cos}); "
                  f"sim(eat, bread) {eat @ bread:.4f} > sim(eat, horse) {eat @ horse:.4f}: {order}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
