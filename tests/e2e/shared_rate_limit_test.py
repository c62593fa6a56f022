"""`--rate-limit` across replicas: two `ragd serve` sharing one Redis (--cache redis://...) take
from one token bucket per API key, so a client gets N requests per minute in all, whichever
replica nginx sends it to; the 429 carries Retry-After. Redis killed: each replica falls back
to its own bucket (still limited, no request fails for the outage). Skipped (77) when
redis-server or the models are missing; scripts/setup installs redis-server."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import SKIP, Server, args, check  # noqa: E402
from redis_cache_test import Redis  # noqa: E402

PER_MINUTE = 4  # a token every 15 s: none comes back during the test


def get(srv, key):
    status, body, headers = srv.request("GET", "/v1/models", headers={"Authorization": f"Bearer {key}"})
    return status, body, headers


def main():
    ragd, _, models = args(embedder=False)
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if not binary:
        print("skip: redis-server is not installed (scripts/setup installs it)")
        sys.exit(SKIP)
    redis = Redis(binary)
    flags = ["--cache", redis.url, "--rate-limit", str(PER_MINUTE), "--api-key", "key-one", "--api-key", "key-two"]
    try:
        with Server(ragd, models, *flags, embedder=False) as a, Server(ragd, models, *flags, embedder=False) as b:
            for i, srv in enumerate([a, b, a, b]):
                status, body, _ = get(srv, "key-one")
                check(status == 200, f"request {i + 1} of {PER_MINUTE}: {status} {body}")
            for srv in (a, b):
                status, body, headers = get(srv, "key-one")
                check(status == 429, f"request over the shared limit got {status}: {body}")
                check("all replicas" in body["error"]["message"], body)
                retry = int(headers.get("Retry-After", "0"))
                check(10 <= retry <= 15, f"Retry-After {retry}, expected about 15 s")
            status, body, _ = get(b, "key-two")  # another key has its own bucket
            check(status == 200, body)

            # Redis gone: A's own bucket (untouched so far) decides: PER_MINUTE more, then 429.
            redis.kill()
            for i in range(PER_MINUTE):
                status, body, _ = get(a, "key-one")
                check(status == 200, f"fallback request {i + 1}: {status} {body}")
            status, body, _ = get(a, "key-one")
            check(status == 429, f"the fallback bucket did not limit: {status} {body}")
            check("unreachable" in a.logs(), a.logs())
            status, text, _ = a.request("GET", "/metrics", headers={"Authorization": "Bearer key-two"})
            check(status == 200, text)
            fallbacks = [line for line in text.splitlines() if line.startswith("ragd_rate_limit_backend_errors_total")]
            check(fallbacks and float(fallbacks[0].split()[-1]) >= PER_MINUTE + 1, fallbacks or text[-2000:])
    finally:
        redis.close()
    print("ok")


if __name__ == "__main__":
    main()
