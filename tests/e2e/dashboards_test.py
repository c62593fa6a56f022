"""deploy/: the Prometheus scrape config passes `promtool check config`, and every query of
the Grafana dashboard (deploy/grafana/ragd.json) parses as PromQL (`promtool check rules`
on one recording rule per query) and names only metrics that a real `ragd serve` exports
after chat, RAG and embedding traffic (read from its /metrics with the API key, as
Prometheus would). The queries are not evaluated against data: promtool cannot query a
scraped file. Skipped (77) without promtool."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from serve_harness import SKIP, Server, args, check

KEY = "dashboard-test-key"
AUTH = {"Authorization": "Bearer " + KEY}
# PromQL words that look like metric names in an expression.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan"}


def promtool(*argv):
    r = subprocess.run(["promtool", *argv], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def check_prometheus_config(repo, tmp):
    """The shipped config, with its credentials file pointed at a temporary key file."""
    text = open(os.path.join(repo, "deploy/prometheus/prometheus.yml")).read()
    check("credentials_file: /etc/prometheus/ragd.key" in text and "127.0.0.1:8080" in text,
          "prometheus.yml: expected a bearer credentials file and the 127.0.0.1:8080 target")
    key = os.path.join(tmp, "ragd.key")
    with open(key, "w") as f:
        f.write(KEY)
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(text.replace("/etc/prometheus/ragd.key", key))
    rc, out = promtool("check", "config", cfg)
    check(rc == 0, f"promtool check config failed:\n{out}")


def dashboard_queries(repo):
    """[(panel title, expr with Grafana variables replaced)] of the dashboard, after checking
    its structure: schema version, a Prometheus datasource variable used by every panel."""
    dash = json.load(open(os.path.join(repo, "deploy/grafana/ragd.json")))
    check(dash.get("schemaVersion", 0) >= 36, f"schemaVersion {dash.get('schemaVersion')}")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check(variables.get("datasource", {}).get("type") == "datasource"
          and variables["datasource"].get("query") == "prometheus", "no Prometheus datasource variable")
    queries = []
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        check(p["datasource"]["uid"] == "${datasource}", f"panel {p['title']!r} does not use the variable")
        check(p.get("targets"), f"panel {p['title']!r} has no queries")
        for t in p["targets"]:
            expr = t["expr"].replace("$__rate_interval", "5m").replace("$model", ".*")
            check("$" not in expr, f"unknown Grafana variable in {t['expr']!r}")
            queries.append((p["title"], expr))
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("tokens/s", "time to first token", "waiting", "running", "kv cache", "cache hit", "memory",
                  "status"):
        check(topic in titles, f"the dashboard has no panel about {topic!r}")
    return queries


def metric_names(expr):
    """Metric names an expression selects: identifiers outside label matchers, string
    literals, ranges and grouping clauses that are not functions or keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the exponent or unit of a number literal
        names.add(m.group(0))
    return names


def scrape(srv):
    status, _, _ = srv.request("GET", "/metrics")
    check(status == 401, f"/metrics without the key: {status} (the scrape config's credential is needed)")
    status, text, _ = srv.request("GET", "/metrics", headers=AUTH)
    check(status == 200, f"/metrics with the key: {status}")
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M)}


def traffic(srv):
    """Chat, ingestion, two identical RAG queries (a cache hit), embeddings."""
    def post(path, body, want=200):
        status, r, _ = srv.request("POST", path, body, headers=AUTH)
        check(status == want, f"POST {path}: {status} {r}")
    post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})
    post("/v1/collections", {"name": "docs"}, 201)
    post("/v1/collections/docs/documents",
         {"documents": [{"id": "etna", "text": "Mount Etna in Sicily is one of the most active volcanoes."}]})
    for _ in range(2):
        post("/v1/rag/query", {"question": "Which volcano is in Sicily?", "collection": "docs", "max_tokens": 8})
    post("/v1/embeddings", {"input": ["hello", "world"]})


def main():
    ragd, repo, models = args()
    if not shutil.which("promtool"):
        print("skip: promtool not found (apt install prometheus)")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory() as tmp:
        check_prometheus_config(repo, tmp)
        queries = dashboard_queries(repo)
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries)]}]}
        path = os.path.join(tmp, "rules.json")  # YAML is a superset of JSON
        with open(path, "w") as f:
            json.dump(rules, f)
        rc, out = promtool("check", "rules", path)
        check(rc == 0, f"a dashboard query is not valid PromQL:\n{out}")

    with Server(ragd, models, "--api-key", KEY) as srv:
        traffic(srv)
        exported = scrape(srv)
    missing = []
    for title, expr in queries:
        names = metric_names(expr)
        check(names, f"panel {title!r}: no metric in {expr!r}")
        missing += [f"{title}: {n}" for n in sorted(names) if n not in exported]
    check(not missing, "the dashboard uses metrics ragd does not export:\n  " + "\n  ".join(missing))
    print(f"ok: {len(queries)} dashboard queries parse and use only exported metrics")


if __name__ == "__main__":
    main()
