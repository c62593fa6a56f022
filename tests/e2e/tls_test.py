"""HTTPS (`ragd serve --tls-cert FILE --tls-key FILE`, issue 13), with a self-signed
certificate made by the `openssl` CLI: curl and the official `openai` client (through an
httpx client that verifies the certificate) get /health and streamed chat; megabyte
request and response bodies go through; a client that
does not trust the certificate is refused; plain HTTP to the TLS port is a clean 400 and
the server keeps serving; clients that connect and never finish (or never start) a
handshake do not block anyone and are closed after the header timeout; bad certificate
settings stop the start with a clear message."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from serve_harness import LLM, SKIP, Server, args, check

HEADER_TIMEOUT = 2  # seconds: how long a silent TLS client may hold its socket


def make_cert(tmp, name):
    """A self-signed certificate for 127.0.0.1 / localhost: (cert path, key path)."""
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def curl(cert, *argv):
    # --noproxy: a proxy configured for this user must not carry loopback traffic.
    return subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "60", "--cacert", cert, *argv],
                          capture_output=True, text=True)


def with_curl(srv, cert):
    r = curl(cert, srv.url + "/health")
    check(r.returncode == 0 and '"ok"' in r.stdout, f"curl /health over TLS: rc {r.returncode} {r.stdout} {r.stderr}")
    r = curl(cert, srv.url + "/v1/chat/completions", "-H", "Content-Type: application/json", "-d",
             '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"stream":true}')
    check(r.returncode == 0, f"curl streamed chat over TLS: rc {r.returncode}: {r.stderr}")
    chunks = [line for line in r.stdout.splitlines() if line.startswith("data: ")]
    check(len(chunks) >= 3 and chunks[-1] == "data: [DONE]", f"streamed chat over TLS: {r.stdout[-500:]}")


def with_openai(srv, cert):
    import httpx
    import openai
    verified = httpx.Client(verify=ssl.create_default_context(cafile=cert), trust_env=False, timeout=60)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, http_client=verified)
    stream = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "Hi"}], max_tokens=8,
                                            stream=True)
    reasons = [c.choices[0].finish_reason for c in stream if c.choices]
    check(reasons and reasons[-1] in ("length", "stop"), f"openai stream over TLS ended with {reasons[-1:]}")
    check(len(client.models.list().data) >= 1, "openai models.list over TLS is empty")
    # The certificate is really checked: a client with the default CAs does not trust it.
    untrusting = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0,
                               http_client=httpx.Client(trust_env=False, timeout=10))
    try:
        untrusting.models.list()
        check(False, "a client without the self-signed CA was not refused")
    except openai.APIConnectionError:
        pass


def large_bodies(srv):
    """Megabytes each way: many TLS records, partial writes."""
    text = "hello world, the sea is wide. " * 40000  # 1.2 MB
    status, body, _ = srv.request("POST", "/tokenize", body={"content": text, "add_special": False})
    check(status == 200 and len(body["tokens"]) > 100000, f"tokenize 1.2 MB over TLS: {status} {str(body)[:200]}")
    status, back, _ = srv.request("POST", "/detokenize", body={"tokens": body["tokens"]})
    check(status == 200 and back["content"] == text, f"detokenize over TLS: {status}, round trip lost text")


def plain_http(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    check(reply.startswith(b"HTTP/1.1 400") and b"https://" in reply, f"plain HTTP to the TLS port: {reply[:300]!r}")
    status, body, _ = srv.request("GET", "/health")
    check(status == 200, f"after plain HTTP on the TLS port: /health {status} {body}")


def silent_clients(srv):
    """Sockets that never send a ClientHello, or stop half-way through one."""
    silent = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(20)]
    partial = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(5)]
    for s in partial:
        s.sendall(b"\x16\x03\x01\x02\x00\x01")  # a handshake record header, then nothing
    try:
        for _ in range(3):
            start = time.monotonic()
            status, _, _ = srv.request("GET", "/health", timeout=10)
            took = time.monotonic() - start
            check(status == 200 and took < HEADER_TIMEOUT,
                  f"/health behind 25 silent TLS clients: status {status} after {took:.1f} s")
        time.sleep(HEADER_TIMEOUT + 1.5)
        for s in silent + partial:
            s.settimeout(5)
            try:
                data = s.recv(1024)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                data = None
            check(data == b"", f"a silent TLS client was not closed after the header timeout: {data!r}")
    finally:
        for s in silent + partial:
            s.close()
    status, _, _ = srv.request("GET", "/health")
    check(status == 200, f"after silent TLS clients: /health {status}")


def bad_settings(ragd, models, tmp, cert, key):
    other_cert, other_key = make_cert(tmp, "other")
    garbage = os.path.join(tmp, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    cases = [
        (["--tls-cert", cert, "--tls-key", other_key], "does not match the certificate"),
        (["--tls-cert", cert], "--tls-key) is missing"),
        (["--tls-key", key], "--tls-cert) is missing"),
        (["--tls-cert", garbage, "--tls-key", key], "is not a PEM certificate"),
        (["--tls-cert", cert, "--tls-key", garbage], "is not a PEM private key"),
        (["--tls-cert", os.path.join(tmp, "absent.crt"), "--tls-key", key], "cannot be read"),
    ]
    for flags, needle in cases:
        r = subprocess.run([ragd, "serve", "--port", "0", "--db", os.path.join(tmp, "db"), "--model",
                            os.path.join(models, LLM + ".gguf"), *flags], capture_output=True, text=True, timeout=60,
                           cwd=tmp)
        check(r.returncode != 0, f"{flags}: started anyway: {r.stdout[-300:]}")
        check(needle in r.stderr, f"{flags}: '{needle}' not in the error: {r.stderr[-500:]}")
        check("listening" not in r.stdout, f"{flags}: listened before failing: {r.stdout[-300:]}")


def main():
    ragd, _repo, models = args()
    if not shutil.which("openssl") or not shutil.which("curl"):
        print("skip: the openssl and curl commands are needed")
        sys.exit(SKIP)
    try:
        import httpx  # noqa: F401
        import openai  # noqa: F401
    except ImportError:
        print("skip: the openai package is not installed (scripts/setup packages)")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix="ragd-tls-") as tmp:
        cert, key = make_cert(tmp, "server")
        with Server(ragd, models, "--tls-cert", cert, "--tls-key", key, "--header-timeout", str(HEADER_TIMEOUT),
                    cafile=cert) as srv:
            check(srv.scheme == "https", f"TLS server announced {srv.url}")
            with_curl(srv, cert)
            with_openai(srv, cert)
            large_bodies(srv)
            plain_http(srv)
            silent_clients(srv)
            with_curl(srv, cert)
            check(srv.proc.poll() is None, "the server died")
        bad_settings(ragd, models, tmp, cert, key)
    print("ok")


if __name__ == "__main__":
    main()
