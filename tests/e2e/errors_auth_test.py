"""Malformed requests get 4xx OpenAI-shaped errors (never a crash), and API keys are
enforced: 401 without a key, public probes stay open."""
import http.client
import sys

from serve_harness import LLM, SKIP, Server, args, check

try:
    import openai
except ImportError:
    print("skip: the openai package is not installed")
    sys.exit(SKIP)

KEY = "test-secret-key"
AUTH = {"Authorization": "Bearer " + KEY}


def expect_error(srv, method, path, status, body=None, raw=None, headers=AUTH, needle=""):
    got, payload, _ = srv.request(method, path, body=body, raw=raw, headers=headers)
    check(got == status, f"{method} {path}: expected {status}, got {got}: {str(payload)[:300]}")
    check(isinstance(payload, dict) and "error" in payload, f"{path}: not an error object: {payload}")
    err = payload["error"]
    check(isinstance(err.get("message"), str) and err["message"], err)
    check({"message", "type", "param", "code"} <= set(err), err)
    check(needle.lower() in err["message"].lower(), f"'{needle}' not in '{err['message']}'")
    return err


def main():
    ragd, _, models = args()
    with Server(ragd, models, "--api-key", KEY, "--max-body-size", "64KiB", embedder=False) as srv:
        chat = "/v1/chat/completions"
        # Authentication.
        expect_error(srv, "GET", "/v1/models", 401, headers={}, needle="API key")
        expect_error(srv, "GET", "/v1/models", 401, headers={"Authorization": "Bearer wrong"}, needle="API key")
        check(srv.request("GET", "/v1/models", headers=AUTH)[0] == 200, "key accepted")
        check(srv.request("GET", "/v1/models", headers={"X-API-Key": KEY})[0] == 200, "X-API-Key accepted")
        check(srv.request("GET", "/health")[0] == 200, "health is public")
        bad = openai.OpenAI(base_url=srv.url + "/v1", api_key="nope", max_retries=0)
        try:
            bad.models.list()
            raise AssertionError("a wrong key was accepted")
        except openai.AuthenticationError:
            pass

        # Malformed bodies.
        expect_error(srv, "POST", chat, 400, raw=b"{not json", needle="invalid JSON")
        expect_error(srv, "POST", chat, 400, raw=b"", needle="empty")
        expect_error(srv, "POST", chat, 400, raw=b"[1,2]", needle="object")
        expect_error(srv, "POST", chat, 400, body={"model": LLM}, needle="messages")
        expect_error(srv, "POST", chat, 400, body={"messages": "hi"}, needle="messages")
        expect_error(srv, "POST", chat, 400, body={"messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
                     needle="max_tokens")
        expect_error(srv, "POST", chat, 400, body={"messages": [{"role": "user", "content": "x"}], "n": 17}, needle="'n' must be between 1 and 16")
        expect_error(srv, "POST", chat, 400, body={"messages": [{"role": "user", "content": "x"}], "temperature": -2},
                     needle="temperature")
        err = expect_error(srv, "POST", chat, 404, body={"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]},
                           needle="does not exist")
        check(err["code"] == "model_not_found", err)
        expect_error(srv, "POST", "/v1/completions", 400, body={"model": LLM}, needle="prompt")
        expect_error(srv, "POST", "/v1/embeddings", 400, body={"input": [1, 2]}, needle="input")
        expect_error(srv, "POST", "/v1/embeddings", 503, body={"input": "x"}, needle="no embedding model")
        expect_error(srv, "POST", "/v1/rag/query", 400, body={"collection": "docs"}, needle="question")
        expect_error(srv, "POST", "/v1/rag/query", 404, body={"question": "why", "collection": "nope"}, needle="does not exist")
        expect_error(srv, "POST", "/v1/batch", 400, body={"requests": []}, needle="requests")
        expect_error(srv, "POST", "/v1/cache", 400, body={"action": "explode"}, needle="action")
        expect_error(srv, "GET", "/v1/nothing-here", 404, needle="no route")
        # Too large: rejected before the handler, still an OpenAI error object.
        big = b'{"messages": [{"role": "user", "content": "' + b"x" * 100_000 + b'"}]}'
        expect_error(srv, "POST", chat, 413, raw=big, needle="too large")
        # A prompt longer than the context is a 400, not a hang or a crash.
        expect_error(srv, "POST", chat, 400, body={"messages": [{"role": "user", "content": "word " * 6000}]})

        # Raw garbage on the socket does not take the server down.
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.sock = None
        conn.connect()
        conn.sock.sendall(b"\x00\x01GARBAGE\r\n\r\n")
        conn.close()
        check(srv.request("GET", "/health")[0] == 200, "server survived garbage")
        check(srv.proc.poll() is None, "server still running")
    print("ok")


if __name__ == "__main__":
    main()
