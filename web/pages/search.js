// Search playground: one query against BM25, dense and hybrid retrieval side by side
// (three POST /v1/search calls at once), with ranks, scores and each mode's timings.
import { loadCollections, postJson } from "../api.js";
import { collectionSelect, el, errorBox, field, formatMs, formatNumber } from "../ui.js";

const MODES = [["bm25", "BM25"], ["dense", "Dense"], ["hybrid", "Hybrid"]];

function resultColumn(mode, label, result, error) {
  const col = el("section", { class: "result-col", "data-mode": mode, "aria-label": `${label} results` }, el("h3", { text: label }));
  if (error) {
    col.append(errorBox(error));
    return col;
  }
  const t = result.timings || {};
  col.append(el("p", { class: "timings", text: [`${result.data.length} results`, `embed ${formatMs(t.embed)}`,
    `retrieve ${formatMs(t.retrieve)}`, `rerank ${formatMs(t.rerank)}`, `total ${formatMs(t.total)}`,
    `cache ${result.cache}`].join(" · ") }));
  const list = el("ol", { class: "results" });
  for (const r of result.data) {
    const raw = [];
    if (r.bm25_score !== null && r.bm25_score !== undefined) raw.push(`bm25 ${formatNumber(r.bm25_score)}`);
    if (r.dense_score !== null && r.dense_score !== undefined) raw.push(`dense ${formatNumber(r.dense_score)}`);
    const text = r.text || "";
    list.append(el("li", { class: "result" },
      el("div", { class: "result-head" },
        el("span", { class: "rank", text: `#${r.rank}` }),
        el("strong", { text: r.title || r.id }),
        el("span", { class: "score", text: formatNumber(r.score) })),
      el("div", { class: "muted small", text: [r.id, r.heading, raw.join(", ")].filter(Boolean).join(" · ") }),
      el("p", { class: "snippet", text: text.length > 280 ? `${text.slice(0, 280)}…` : text })));
  }
  if (!result.data.length) list.append(el("li", { class: "muted", text: "No results." }));
  col.append(list);
  return col;
}

export async function render(page) {
  const { collections, loadError } = await loadCollections();
  const query = el("input", { type: "search", required: true, placeholder: "What are you looking for?" });
  const collection = collectionSelect(collections, "ragd.search.collection");
  const topK = el("input", { type: "number", min: "1", max: "100", value: "5", inputmode: "numeric" });
  const profile = el("select", {}, ...["fast", "default", "quality"].map((p) => el("option", { value: p, text: p, selected: p === "default" })));
  const fusion = el("select", {}, el("option", { value: "weighted", text: "weighted" }), el("option", { value: "rrf", text: "rrf" }));
  const useCache = el("input", { type: "checkbox" });
  const out = el("div", { class: "result-grid", id: "search-results" });

  async function run() {
    const base = { query: query.value.trim(), collection: collection.value, top_k: Number(topK.value) || 5,
                   profile: profile.value, fusion: fusion.value, cache: useCache.checked };
    if (!base.query) return;
    out.setAttribute("aria-busy", "true");
    out.replaceChildren(el("p", { class: "muted", text: "Searching…" }));
    const settled = await Promise.allSettled(MODES.map(([mode]) => postJson("/v1/search", { ...base, mode })));
    out.replaceChildren(...MODES.map(([mode, label], i) =>
      resultColumn(mode, label, settled[i].value, settled[i].status === "rejected" ? settled[i].reason : null)));
    out.removeAttribute("aria-busy");
  }

  const form = el("form", { class: "toolbar", onsubmit: (ev) => {
    ev.preventDefault();
    run();
  } },
    field("Query", query, "field grow"),
    field("Collection", collection),
    field("Top-k", topK, "field small"),
    field("Profile", profile),
    field("Hybrid fusion", fusion),
    el("div", { class: "field check" }, useCache, el("label", { for: (useCache.id = "search-cache"), text: "Use result cache" })),
    el("div", { class: "row bottom" }, el("button", { type: "submit", text: "Search" })));
  page.append(el("section", { class: "search" }, loadError ? errorBox(loadError) : null,
    collections.length ? null : el("p", { class: "muted", text: "No collections yet: add documents on the Documents page." }),
    form, out));
  query.focus();
}
