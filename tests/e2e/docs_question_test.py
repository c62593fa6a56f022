"""The first thing a new user tries (issue 12): after `make run`, ask the project's own docs
"How do I run the tests?" and get the right answer, citing the README section that says it.

Runs the real scripts/run-main (what `make run` does after building): it ingests docs/ and
README.md into the default collection and serves the catalog's default model, so the question
names no collection (as `ragd ask` needs none). The store goes to a temporary folder and the
port is any free one. Greedy decoding makes the answer repeatable; the check is on content
(`make test` named, a citation of README.md's passage that says it), not on exact wording."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import serve_harness

QUESTION = "How do I run the tests?"


def stream_rag_query(url, question):
    """POST /v1/rag/query with stream=true; returns (text pieces, final event)."""
    body = json.dumps({"question": question, "stream": True}).encode()
    req = urllib.request.Request(url + "/v1/rag/query", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    pieces, final = [], None
    with urllib.request.urlopen(req, timeout=300) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "delta" in event:
                pieces.append(event["delta"])
            if event.get("object") == "rag.answer" or "citations" in event:
                final = event
    return pieces, final


def main():
    ragd, repo, models = serve_harness.args()
    default = subprocess.run([ragd, "models", "--path", "default"], capture_output=True, text=True,
                             env={**os.environ, "RAGD_MODEL_DIR": models})
    if default.returncode != 0:
        print(f"skip: the default model is not installed in {models} (run 'make models')")
        return serve_harness.SKIP
    with tempfile.TemporaryDirectory(prefix="ragd-docs-") as data:
        env = {**os.environ, "RAGD_MODEL_DIR": models, "RAGD_RUN_DATA": data, "RAGD_PORT": "0"}
        proc = subprocess.Popen([os.path.join(repo, "scripts", "run-main"), ragd], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            url, seen = None, []
            deadline = time.time() + 600
            while url is None and time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                m = re.search(r"listening on (http://[\d.]+:\d+)", line)
                if m:
                    url = m.group(1)
            serve_harness.check(url is not None, "run-main did not start serving:\n" + "".join(seen[-30:]))
            pieces, final = stream_rag_query(url, QUESTION)
            answer = final["answer"] if final and "answer" in final else "".join(pieces)
            print("answer:", answer)
            serve_harness.check(len(pieces) > 1, f"the answer was not streamed in pieces: {pieces}")
            serve_harness.check("make test" in answer, f"the answer does not say `make test`: {answer!r}")
            citations = final.get("citations", []) if final else []
            print("citations:", json.dumps(citations)[:600])
            readme = [c for c in citations if c["id"].endswith("README.md")]
            serve_harness.check(readme, f"no citation of README.md: {citations}")
            serve_harness.check(any("make test" in c["quote"] for c in readme),
                                f"the README citation does not hold the passage that says `make test`: {readme}")
            serve_harness.check(final.get("finish_reason", "stop") != "length",
                                f"the answer ran to the token limit: {final}")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    print("ok: the docs question is answered with `make test`, citing README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
