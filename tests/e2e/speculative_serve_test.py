"""`ragd serve --draft-model`: speculative decoding in the server. Greedy completions equal
those of a server without the draft (the draft here is the model itself, so it is accepted
throughout; then `--draft-model lookup`, prompt lookup without a second model), the
ragd_spec_* counters move, and a draft of another vocabulary stops the server at warm-up
with a message naming the tokenizer."""
import os
import subprocess
import tempfile

from serve_harness import LLM, Server, args, check

PROMPTS = ["Once upon a time", "The three rules of writing good tests are", "def fibonacci(n):"]


def completions(srv):
    out = []
    for p in PROMPTS:
        status, res, _ = srv.request("POST", "/v1/completions", {"prompt": p, "max_tokens": 40, "temperature": 0})
        check(status == 200, (p, status, res))
        out.append(res["choices"][0]["text"])
    return out


def main():
    ragd, _, models = args(embedder=False)
    llm = os.path.join(models, LLM + ".gguf")
    with Server(ragd, models, embedder=False) as plain:
        want = completions(plain)
        check(plain.metric("ragd_spec_draft_tokens_total") is None, "no draft, no ragd_spec_* series")
    with Server(ragd, models, "--draft-model", llm, "--draft-tokens", "3", embedder=False) as spec:
        got = completions(spec)
        check(got == want, (got, want))
        proposed = spec.metric("ragd_spec_draft_tokens_total")
        accepted = spec.metric("ragd_spec_accepted_tokens_total")
        rounds = spec.metric("ragd_spec_rounds_total")
        check(proposed and rounds and proposed <= 3 * rounds, (proposed, rounds))
        check(accepted is not None and accepted > 0.9 * proposed, (accepted, proposed))
    with Server(ragd, models, "--draft-model", "lookup", "--draft-tokens", "3", embedder=False) as lookup:
        got = completions(lookup)
        check(got == want, (got, want))
        proposed = lookup.metric("ragd_spec_draft_tokens_total")
        rounds = lookup.metric("ragd_spec_rounds_total")
        check(proposed and rounds and proposed <= 3 * rounds, (proposed, rounds))

    # A draft with another vocabulary (Qwen's for SmolLM2's), when that file is installed.
    other = os.path.join(models, "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf")
    if os.path.exists(other):
        with tempfile.TemporaryDirectory(prefix="ragd-e2e-") as tmp:
            proc = subprocess.run([ragd, "serve", "--port", "0", "--model", llm, "--draft-model", other, "--warmup",
                                   "--threads", "2", "--db", os.path.join(tmp, "db")],
                                  capture_output=True, text=True, timeout=120, cwd=tmp)
        check(proc.returncode != 0, proc.stdout)
        check("tokenizer" in proc.stderr, proc.stderr[-2000:])
    print("ok")


if __name__ == "__main__":
    main()
