#!/usr/bin/env python3
"""Records llama.cpp's token ids for a set of texts, as NAME.inp / NAME.out files in the
format of ../shared/data/tokenizer (cases separated by "\\n__ggml_vocab_test__\\n"; one line
of space-separated ids per case; no BOS/EOS added, special tokens not parsed).

The texts: the cases of an existing .inp file (llama.cpp's tokenizer test texts) given with
--base, then EXTRA below (whitespace runs, newlines, code, markup, scripts and emoji, byte
fallback, texts that look like control tokens).

Usage: llama_tokenizer_golden.py --tokenize PATH/llama-tokenize --model FILE.gguf
                                 --base ggml-vocab-llama-spm.gguf.inp --out PREFIX
"""
import argparse
import subprocess

SEP = "\n__ggml_vocab_test__\n"

EXTRA = [
    "\n\n\n",
    "line one\n\nline two\n\n\n\nline three",
    "    indented by four\n\ttab\t\ttabs",
    "def f(x):\n    return {'a': [1, 2, 3], \"b\": x ** 2}  # comment\n",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "<start_of_turn>user\nHello<end_of_turn>",
    "<bos> <eos> <pad> <unk> <mask>",
    "Ünïcödé façade naïve café — “quotes” ‘single’ … • ©®™",
    "日本語のテキストと中文文本，还有한국어 문장.",
    "Здравствуйте, мир! Γειά σου κόσμε. مرحبا بالعالم. שלום עולם",
    "Emoji: 😀🤖🚀👨‍👩‍👧‍👦 🇫🇷 ✔️",
    "Numbers 3.14159 1,000,000 2026-12-06 0x1F 1e-9 ½ ⅞",
    "URLs https://example.org/path?q=1&r=two#frag and mail a.b@c.de",
    "Rare bytes: \u0001\u0002 \u00a0nbsp \u200bzwsp \ufeffbom",
    "   leading spaces and trailing spaces   ",
    "MiXeD CaSe WORDS and snake_case_words and camelCaseWords",
    "a" * 100,
    "!!!??? ... --- *** ### @@@ $$$ %%% ^^^",
]


def read_cases(path):
    text = open(path, encoding="utf-8").read()
    cases = text.split(SEP)
    if cases and cases[-1] == "":
        cases.pop()
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenize", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = read_cases(a.base) + EXTRA
    outs = []
    for c in cases:
        r = subprocess.run([a.tokenize, "-m", a.model, "--stdin", "--no-escape", "--no-bos", "--ids",
                            "--no-parse-special", "--log-disable"],
                           input=c.encode("utf-8"), capture_output=True, check=True)
        line = r.stdout.decode().strip().splitlines()[-1]
        ids = [int(x) for x in line.strip("[]").split(",") if x.strip()]
        outs.append(" ".join(map(str, ids)))
    with open(a.out + ".inp", "w", encoding="utf-8") as f:
        f.write("".join(c + SEP for c in cases))
    with open(a.out + ".out", "w") as f:
        f.write("".join(o + "\n" for o in outs))
    print(f"{len(cases)} cases written to {a.out}.inp / .out")


if __name__ == "__main__":
    main()
