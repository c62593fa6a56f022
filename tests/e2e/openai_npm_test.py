"""The official `openai` npm client against `ragd serve` (issue 15): runs
tests/npm/openai_client_test.mjs under Node with SmolLM2-135M for chat, streaming with usage
and structured output (the SDK's parse helper), and Qwen2.5-Coder-1.5B for tool calls in a
loop (by hand and through the SDK's runTools). Skipped when Node or the pinned package
(`npm ci --prefix tests/npm`, run by scripts/setup) is missing."""
import os
import shutil
import subprocess
import sys

from serve_harness import LLM, SKIP, Server, args, check

QWEN = "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M"


def main():
    ragd, repo, models = args(embedder=False)
    node = shutil.which("node")
    script = os.path.join(repo, "tests", "npm", "openai_client_test.mjs")
    if not node or not os.path.isdir(os.path.join(repo, "tests", "npm", "node_modules", "openai")):
        print("skip: node or tests/npm/node_modules/openai is missing (npm ci --prefix tests/npm; scripts/setup)")
        return SKIP
    qwen = os.path.join(models, QWEN + ".gguf")
    if not os.path.exists(qwen):
        print(f"skip: {QWEN}.gguf not in {models} (run 'make models')")
        return SKIP
    with Server(ragd, models, "--model", qwen, embedder=False) as srv:
        r = subprocess.run([node, script, srv.url + "/v1", LLM, QWEN], capture_output=True, text=True, timeout=500)
        print(r.stdout, end="")
        print(r.stderr, end="", file=sys.stderr)
        check(r.returncode == 0, f"openai_client_test.mjs exited {r.returncode}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
