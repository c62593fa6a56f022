"""The web app served at / by `ragd serve`, driven in Debian's headless Chromium through
Selenium and /usr/bin/chromedriver (nothing downloads a browser or a driver: the Service
names the driver, SE_OFFLINE keeps Selenium Manager off the network). Uploads files through
the page, asks a question and watches the answer stream and a citation open its chunk, plain
chat, runs a search (three result columns), the models and metrics pages, phone width and
dark mode, and a server with an API key (the page asks for it, refuses a wrong one cleanly,
works with the right one). Also checks the asset headers and CORS over plain HTTP.
Screenshots: web-screenshots/ in the working directory (the build tree under ctest), or
$RAGD_SCREENSHOT_DIR."""
import os
import sys
import tempfile
import threading

from serve_harness import SKIP, Server, args, check

CHROMIUM = os.environ.get("RAGD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RAGD_CHROMEDRIVER", "/usr/bin/chromedriver")
for path in (CHROMIUM, CHROMEDRIVER):
    if not os.access(path, os.X_OK):
        print(f"skip: {path} not found (apt-get install chromium chromium-driver; scripts/setup)")
        sys.exit(SKIP)
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    print("skip: the selenium package is not installed (scripts/setup packages)")
    sys.exit(SKIP)

SHOTS = os.environ.get("RAGD_SCREENSHOT_DIR", os.path.join(os.getcwd(), "web-screenshots"))
ORIGIN = "http://localhost:5173"
VOLCANO = """# Volcanoes

A volcano is an opening in the crust of the Earth through which molten lava, ash and gases escape.
Mount Etna in Sicily is one of the most active volcanoes in Europe. Etna is about 3,300 metres tall.
"""
TEA = """# Green tea

Green tea is made from the leaves of Camellia sinensis that have not been oxidised.
It originated in China and is popular across East Asia.
"""


def browser(profile_dir):
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
              "--no-first-run", "--disable-extensions", f"--user-data-dir={profile_dir}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def wait(driver, cond, what, timeout=60):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: cond(d))
    except TimeoutException:
        shot(driver, "failure")
        raise AssertionError(f"timed out waiting for {what}; browser log: {console_errors(driver)}")


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def console_errors(driver):
    try:
        return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    except Exception:  # noqa: BLE001 - the log is a diagnostic only
        return []


def find(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css)


def finds(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def check_http(srv):
    status, body, h = srv.request("GET", "/")
    check(status == 200 and h["Content-Type"].startswith("text/html") and "<title>ragd</title>" in body, (status, h))
    check(h["Cache-Control"] == "no-cache" and h["ETag"] and "default-src 'self'" in h["Content-Security-Policy"], h)
    status, _, _ = srv.request("GET", "/", headers={"If-None-Match": h["ETag"]})
    check(status == 304, f"revalidation gave {status}")
    status, body, h = srv.request("GET", "/assets/app.js")
    check(status == 200 and h["Content-Type"].startswith("text/javascript") and "import" in body, (status, h))
    check(srv.request("GET", "/assets/style.css")[2]["Content-Type"].startswith("text/css"), "css type")
    for bad in ("/assets/nope.js", "/assets/../CMakeLists.txt", "/assets/%2e%2e/CMakeLists.txt"):
        status, body, _ = srv.request("GET", bad)
        check(status in (400, 404) and "error" in body, (bad, status, body))
    # CORS: the listed origin may call, others may not, and a preflight is answered.
    _, _, h = srv.request("GET", "/v1/models", headers={"Origin": ORIGIN})
    check(h.get("Access-Control-Allow-Origin") == ORIGIN, h)
    _, _, h = srv.request("GET", "/v1/models", headers={"Origin": "http://evil.example"})
    check("Access-Control-Allow-Origin" not in h, h)
    status, _, h = srv.request("OPTIONS", "/v1/rag/query", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    check(status == 204 and h["Access-Control-Allow-Origin"] == ORIGIN and "POST" in h["Access-Control-Allow-Methods"]
          and "Authorization" in h["Access-Control-Allow-Headers"], (status, h))
    status, body, _ = srv.request("OPTIONS", "/v1/rag/query", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    check(status == 403 and "evil.example" in body["error"]["message"], (status, body))


def test_documents(driver, srv, files):
    driver.get(srv.url + "/#/documents")
    wait(driver, lambda d: finds(d, "#col-title"), "the documents page")
    name = find(driver, "input[placeholder='e.g. docs']")
    name.send_keys("web", Keys.ENTER)
    wait(driver, lambda d: "web" in find(d, "#docs-title").text, "the new collection to open")
    find(driver, "input[type=file]").send_keys("\n".join(files))
    wait(driver, lambda d: len(finds(d, "#documents-table tbody tr")) == 2, "two uploaded documents in the list")
    ids = [e.text for e in finds(driver, "#documents-table tbody th")]
    check(sorted(ids) == ["tea.md", "volcano.md"], ids)
    rows = finds(driver, ".upload")
    check(len(rows) == 3, f"{len(rows)} upload rows")
    failed = [r for r in rows if "failed" in r.get_attribute("class")]
    check(len(failed) == 1 and "unsupported file type" in failed[0].text and "notes.exe" in failed[0].text,
          [r.text for r in rows])
    for r in rows:
        if r not in failed:
            check(r.find_element(By.TAG_NAME, "progress").get_attribute("value") == "1" and "done" in r.text, r.text)
    collections = find(driver, "#collections-table").text
    check("web" in collections, collections)
    find(driver, "input[type=search]").send_keys("volc")
    wait(driver, lambda d: len(finds(d, "#documents-table tbody tr")) == 1, "the name filter")
    shot(driver, "documents")


def test_ask(driver, srv):
    driver.get(srv.url + "/#/ask")
    wait(driver, lambda d: finds(d, ".ask textarea"), "the ask page")
    # Reported, never asserted (speed is not a test's business here).
    fcp = driver.execute_script("return performance.getEntriesByName('first-contentful-paint')[0]?.startTime")
    print(f"first contentful paint of /#/ask: {fcp:.0f} ms" if fcp is not None else "first contentful paint: n/a")
    Select(find(driver, ".ask select")).select_by_value("web")
    # Record every text the streaming answer shows, to see it grow token by token.
    driver.execute_script("""
      window.__seen = [];
      new MutationObserver(() => {
        const t = document.querySelector('.msg.assistant.streaming .text');
        if (t && t.textContent && window.__seen.at(-1) !== t.textContent) window.__seen.push(t.textContent);
      }).observe(document.querySelector('.messages'), {childList: true, subtree: true, characterData: true});""")
    find(driver, ".ask textarea").send_keys("How tall is Mount Etna?", Keys.ENTER)
    wait(driver, lambda d: finds(d, ".msg.assistant") and not finds(d, ".msg.assistant.streaming")
         and finds(d, ".msg.assistant .timings"), "the answer to finish", timeout=120)
    seen = driver.execute_script("return window.__seen")
    answer = driver.execute_script("return document.querySelector('.msg.assistant .text').textContent")
    # Streamed: the answer was shown at two or more lengths, each a prefix of the next. The
    # final text is the done event's, whose [n] markers the server may have corrected.
    check(len(seen) >= 2 and all(b.startswith(a) for a, b in zip(seen, seen[1:])) and answer.startswith(seen[0]),
          (seen, answer))
    timings = find(driver, ".msg.assistant .timings").text
    check(all(k in timings for k in ("embed", "retrieve", "prefill", "decode", "total")), timings)
    cites = finds(driver, ".msg.assistant .text button.cite")
    check(cites, f"no clickable citation in {answer!r}")
    cites[0].click()
    wait(driver, lambda d: find(d, "#chunk-dialog").get_attribute("open") is not None, "the chunk dialog")
    meta = find(driver, "#chunk-meta").text
    check("volcano.md" in meta and "Volcanoes" in meta, meta)
    chunk = find(driver, "#chunk-text").text
    check("Etna" in chunk, chunk)
    marks = finds(driver, "#chunk-text mark")
    check(marks and marks[0].text and marks[0].text in chunk, "the cited span is highlighted")
    shot(driver, "ask-citation")
    find(driver, "#chunk-close").click()
    shot(driver, "ask")
    # The conversation survives a reload (localStorage).
    driver.refresh()
    wait(driver, lambda d: finds(d, ".msg.assistant .text button.cite"), "the conversation after a reload")

    # Plain chat: no collection.
    [b for b in finds(driver, ".ask button") if b.text == "New"][0].click()
    Select(find(driver, ".ask select")).select_by_value("")
    find(driver, ".ask textarea").send_keys("Say hello.", Keys.ENTER)
    wait(driver, lambda d: finds(d, ".msg.assistant") and not finds(d, ".msg.assistant.streaming")
         and finds(d, ".msg.assistant .timings"), "the plain chat answer", timeout=180)
    check(find(driver, ".msg.assistant .text").text.strip(), "an empty chat answer")
    check("total" in find(driver, ".msg.assistant .timings").text, "chat timings")
    check(not finds(driver, ".msg.assistant .error"), find(driver, ".msg.assistant").text)


def test_search(driver, srv):
    driver.get(srv.url + "/#/search")
    wait(driver, lambda d: finds(d, ".search input[type=search]"), "the search page")
    Select(find(driver, ".search select")).select_by_value("web")
    find(driver, ".search input[type=search]").send_keys("active volcano in Sicily", Keys.ENTER)
    wait(driver, lambda d: len(finds(d, ".result-col")) == 3, "three result columns")
    for mode in ("bm25", "dense", "hybrid"):
        col = find(driver, f".result-col[data-mode={mode}]")
        check(not col.find_elements(By.CSS_SELECTOR, ".error"), col.text)
        first = col.find_elements(By.CSS_SELECTOR, ".result")
        check(first and "#1" in first[0].text and "Volcanoes" in first[0].text, (mode, col.text))
        check("total" in col.find_element(By.CSS_SELECTOR, ".timings").text, col.text)
    shot(driver, "search")


def test_deletions(driver, srv):
    driver.get(srv.url + "/#/documents")
    wait(driver, lambda d: len(finds(d, "#documents-table tbody tr")) == 2, "the documents of web")
    find(driver, "button[aria-label='Delete document tea.md']").click()
    driver.switch_to.alert.accept()
    wait(driver, lambda d: len(finds(d, "#documents-table tbody tr")) == 1, "the deleted document to go")
    check(srv.request("GET", "/v1/collections/web/documents/tea.md")[0] == 404, "tea.md still stored")
    find(driver, "input[placeholder='e.g. docs']").send_keys("scratch", Keys.ENTER)
    wait(driver, lambda d: finds(d, "button[aria-label='Delete collection scratch']"), "the scratch collection")
    find(driver, "button[aria-label='Delete collection scratch']").click()
    driver.switch_to.alert.accept()
    wait(driver, lambda d: not finds(d, "button[aria-label='Delete collection scratch']"), "the deleted collection to go")
    check(srv.request("GET", "/v1/collections/scratch")[0] == 404, "scratch still stored")


def test_models_and_metrics(driver, srv):
    driver.get(srv.url + "/#/models")
    wait(driver, lambda d: finds(d, "#models-table"), "the models table")
    table = find(driver, "#models-table").text
    check("SmolLM2-135M-Instruct.Q4_1" in table and "loaded" in table and "default" in table, table)
    shot(driver, "models")
    # Unpin the embedder from the page (POST /v1/models/{name}/unpin).
    find(driver, "button[aria-label='Unpin all-MiniLM-L6-v2.F32']").click()
    wait(driver, lambda d: finds(d, "button[aria-label='Pin all-MiniLM-L6-v2.F32']"), "the unpinned embedder")
    status, body, _ = srv.request("GET", "/v1/models/all-MiniLM-L6-v2.F32")
    check(status == 200 and body["ragd"]["pinned"] is False, body)
    # Traffic while the page watches: short chats, one after another.
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            srv.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Count to ten."}],
                                                         "max_tokens": 24, "temperature": 0})

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        driver.get(srv.url + "/#/metrics")
        wait(driver, lambda d: int(find(d, "#page").get_attribute("data-samples") or 0) >= 3, "three metrics scrapes", timeout=30)
        wait(driver, lambda d: find(d, "#chart-tokens .value").text not in ("0.0", "–"), "tokens/s to show the traffic",
             timeout=60)
        wait(driver, lambda d: "ms" in find(d, "#chart-latency .value").text or " s" in find(d, "#chart-latency .value").text,
             "request latency percentiles", timeout=60)
    finally:
        stop.set()
        worker.join()
    rss = find(driver, "#chart-rss .value").text
    check(rss.endswith("iB") and rss != "–", rss)
    check(find(driver, "#chart-kv .value").text != "–", "kv blocks")
    shot(driver, "metrics")


def test_phone_and_dark(driver, srv):
    driver.set_window_size(390, 844)
    for page in ("ask", "documents", "search"):
        driver.get(f"{srv.url}/#/{page}")
        wait(driver, lambda d: finds(d, "#page > section, #page > .columns"), f"the {page} page at phone width")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 1, f"{page}: {overflow}px wider than a phone screen")
        shot(driver, f"phone-{page}")
    driver.set_window_size(1280, 900)
    light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    driver.get(srv.url + "/#/search")
    wait(driver, lambda d: finds(d, ".search input[type=search]"), "the search page in dark mode")
    find(driver, ".search input[type=search]").send_keys("Etna volcano", Keys.ENTER)
    wait(driver, lambda d: len(finds(d, ".result-col .result")) >= 3, "search results in dark mode")
    dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    check(light != dark, (light, dark))
    shot(driver, "dark-search")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_api_key(driver, ragd, models):
    with Server(ragd, models, "--api-key", "right-key", embedder=False) as srv:
        check(srv.request("GET", "/")[0] == 200, "the page needs no key")
        driver.get(srv.url + "/#/documents")
        wait(driver, lambda d: find(d, "#key-dialog").get_attribute("open") is not None, "the key prompt")
        shot(driver, "api-key")
        find(driver, "#key-input").send_keys("wrong-key", Keys.ENTER)
        wait(driver, lambda d: find(d, "#key-dialog").get_attribute("open") is not None
             and find(d, "#key-error").is_displayed(), "the refusal of a wrong key")
        error = find(driver, "#key-error").text
        check("refused" in error and "401" in error and "wrong-key" not in error, error)
        check(driver.execute_script("return localStorage.getItem('ragd.apiKey')") is None, "a refused key was kept")
        shot(driver, "api-key-wrong")
        find(driver, "#key-input").send_keys("right-key", Keys.ENTER)
        wait(driver, lambda d: find(d, "#key-dialog").get_attribute("open") is None
             and "No collections" in find(d, "#page").text, "the page with the right key")
        check(not finds(driver, "#page .error"), find(driver, "#page").text)
        driver.refresh()  # asked once: the key is kept
        wait(driver, lambda d: "No collections" in find(d, "#page").text, "the page after a reload")
        check(find(driver, "#key-dialog").get_attribute("open") is None, "asked for the key again")


def main():
    ragd, _, models = args()
    with tempfile.TemporaryDirectory(prefix="ragd-web-") as tmp:
        files = []
        for name, text in (("volcano.md", VOLCANO), ("tea.md", TEA), ("notes.exe", "not a document")):
            files.append(os.path.join(tmp, name))
            with open(files[-1], "w") as f:
                f.write(text)
        driver = browser(os.path.join(tmp, "profile"))
        try:
            with Server(ragd, models, "--cors-origin", ORIGIN) as srv:
                check_http(srv)
                test_documents(driver, srv, files)
                test_ask(driver, srv)
                test_search(driver, srv)
                test_deletions(driver, srv)
                test_models_and_metrics(driver, srv)
                test_phone_and_dark(driver, srv)
            test_api_key(driver, ragd, models)
            # Expected: the 401s before a key is given and the 400 for notes.exe.
            errors = [e for e in console_errors(driver) if "401" not in e and "wait=false" not in e]
            check(not errors, f"browser console errors: {errors}")
        finally:
            driver.quit()
    print(f"web ui: ok (screenshots in {SHOTS})")


if __name__ == "__main__":
    main()
