// Live metrics: GET /metrics (Prometheus text) every 2 s, shown as small charts of the
// last 3 minutes. Rates are the change between two scrapes; latency percentiles are over
// the observations of the last 30 s (as Prometheus' histogram_quantile over a rate).
import { send } from "../api.js";
import { Sparkline } from "../chart.js";
import { byLabel, histogram, histogramDelta, parseMetrics, quantile, sum } from "../prom.js";
import { el, errorBox, formatBytes, formatMs } from "../ui.js";

const INTERVAL_MS = 2000;
const WINDOW = 15;  // scrapes in a percentile window: 30 s

const num = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits));
const ms = (seconds) => (seconds === null ? "–" : formatMs(seconds * 1000));

// Every chart: its title, its series, and how to read its values from a scrape (`now`,
// the previous one `prev`, and the histograms WINDOW scrapes ago `old`).
const CHARTS = [
  { id: "tokens", title: "Generated tokens/s", series: ["tokens/s"],
    read: (now, prev, dt) => [prev ? Math.max(0, (sum(now, "ragd_generated_tokens_total") ?? 0) - (sum(prev, "ragd_generated_tokens_total") ?? 0)) / dt : null],
    text: ([v]) => num(v) },
  { id: "requests", title: "HTTP requests/s", series: ["requests/s"],
    read: (now, prev, dt) => [prev ? Math.max(0, (sum(now, "ragd_http_requests_total") ?? 0) - (sum(prev, "ragd_http_requests_total") ?? 0)) / dt : null],
    text: ([v]) => num(v) },
  { id: "running", title: "Requests in flight (running sequences)", series: ["running"],
    read: (now) => [sum(now, "ragd_running_sequences") ?? 0], text: ([v]) => num(v, 0) },
  { id: "queue", title: "Queue depth", series: ["waiting"],
    read: (now) => [sum(now, "ragd_queue_depth") ?? 0], text: ([v]) => num(v, 0) },
  { id: "ttft", title: "Time to first token p50 / p95 (30 s)", series: ["p50", "p95"], hist: "ragd_time_to_first_token_seconds",
    text: ([a, b]) => `${ms(a)} / ${ms(b)}` },
  { id: "latency", title: "Request latency p50 / p95 (30 s)", series: ["p50", "p95"], hist: "ragd_request_duration_seconds",
    text: ([a, b]) => `${ms(a)} / ${ms(b)}` },
  { id: "kv", title: "KV cache blocks used", series: ["used"],
    read: (now) => [sum(now, "ragd_kv_cache_blocks", { state: "used" }) ?? 0],
    text: ([v], now) => {
      const all = sum(now, "ragd_kv_cache_blocks");
      return all ? `${num(v, 0)} of ${num(all, 0)}` : num(v, 0);
    } },
  { id: "rss", title: "Resident memory (RSS)", series: ["rss"],
    read: (now) => [sum(now, "ragd_process_resident_memory_bytes") ?? sum(now, "process_resident_memory_bytes")],
    text: ([v]) => formatBytes(v) },
];

export async function render(page) {
  const status = el("p", { class: "muted", id: "metrics-status", text: "Reading /metrics…" });
  const errorSlot = el("div", {});
  const grid = el("div", { class: "chart-grid" });
  const caches = el("dl", { class: "meta", id: "cache-rates" });
  const charts = CHARTS.map((c) => {
    const canvas = el("canvas", { role: "img", "aria-label": `${c.title} over the last 3 minutes` });
    const value = el("span", { class: "value", text: "–" });
    grid.append(el("figure", { class: "chart", id: `chart-${c.id}` },
      el("figcaption", {}, el("span", { text: c.title }), value), canvas,
      c.series.length > 1 ? el("div", { class: "legend" }, ...c.series.map((s, i) => el("span", { class: `key k${i}`, text: s }))) : null));
    return { ...c, value, line: new Sparkline(canvas, c.series.map((s, i) => ({ label: s, color: i ? "--accent2" : "--accent" }))) };
  });
  page.append(el("section", { class: "metrics" },
    el("div", { class: "row between" }, el("h2", { text: "Live metrics" }), status), errorSlot, grid,
    el("h3", { text: "Cache hit rates" }), caches));

  let prev = null;
  let prevAt = 0;
  const history = [];  // histograms of the recent scrapes, oldest first
  let timer = null;
  let stopped = false;
  let samples = 0;

  async function poll() {
    try {
      const text = await (await send("/metrics")).text();
      const now = parseMetrics(text);
      const at = performance.now();
      const dt = prev ? (at - prevAt) / 1000 : 0;
      const hists = Object.fromEntries(CHARTS.filter((c) => c.hist).map((c) => [c.hist, histogram(now, c.hist)]));
      history.push(hists);
      if (history.length > WINDOW + 1) history.shift();
      const old = history.length > 1 ? history[0] : null;
      for (const c of charts) {
        let values;
        let label;
        if (c.hist) {
          const window = old ? histogramDelta(hists[c.hist], old[c.hist]) : [];
          values = [quantile(window, 0.5), quantile(window, 0.95)];
          label = c.text(values, now);
          if (values[0] === null && quantile(hists[c.hist], 0.5) !== null) {
            // Nothing in the last 30 s: the caption shows the percentiles since the start.
            label = `${c.text([quantile(hists[c.hist], 0.5), quantile(hists[c.hist], 0.95)], now)} (all time)`;
          }
        } else {
          values = c.read(now, prev, dt);
          label = c.text(values, now);
        }
        c.line.push(...values);
        c.value.textContent = label;
      }
      const rates = byLabel(now, "ragd_cache_hit_ratio", "cache");
      caches.replaceChildren(...Object.entries(rates).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: `${num(v * 100)} %` })]));
      if (!Object.keys(rates).length) caches.append(el("dd", { class: "muted", text: "no cache activity yet" }));
      prev = now;
      prevAt = at;
      samples++;
      page.dataset.samples = String(samples);
      status.textContent = `updated ${new Date().toLocaleTimeString()} · every ${INTERVAL_MS / 1000} s`;
      errorSlot.replaceChildren();
    } catch (err) {
      errorSlot.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(poll, INTERVAL_MS);
  }
  poll();
  const redraw = () => charts.forEach((c) => c.line.draw());
  window.addEventListener("resize", redraw);
  return () => {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("resize", redraw);
    delete page.dataset.samples;
  };
}
