// Models: what GET /v1/models reports (configured and installed models, loaded or not,
// memory, uses), with load / unload / pin / unpin (POST /v1/models/{name}/{action}; an
// admin key). The first model of each kind is the default one.
import { getJson, postJson } from "../api.js";
import { el, errorBox, formatBytes, toast } from "../ui.js";

const enc = encodeURIComponent;

function actions(m, refresh) {
  const r = m.ragd || {};
  const act = async (action) => {
    try {
      const res = await postJson(`/v1/models/${enc(m.id)}/${action}`);
      toast(action === "unload" && res.unloaded === false ? `${m.id} is in use; not unloaded` : `${m.id}: ${action} done`);
    } catch (err) {
      toast(err.message, true);
    }
    refresh();
  };
  const b = (action, label) => el("button", { type: "button", class: "quiet", text: label, "aria-label": `${label} ${m.id}`, onclick: () => act(action) });
  return el("div", { class: "row" }, r.loaded ? b("unload", "Unload") : b("load", "Load"), r.pinned ? b("unpin", "Unpin") : b("pin", "Pin"));
}

export async function render(page) {
  const box = el("div", {});
  const heading = el("h2", { text: "Models" });
  async function refresh() {
    try {
      const list = (await getJson("/v1/models")).data;
      const seen = new Set();
      const rows = list.map((m) => {
        const r = m.ragd || {};
        const isDefault = !seen.has(r.kind);
        seen.add(r.kind);
        return el("tr", {},
          el("th", { scope: "row" }, m.id, isDefault ? el("span", { class: "badge", text: "default" }) : null),
          el("td", { text: r.kind || "–" }),
          el("td", { text: r.quantization || "–" }),
          el("td", {}, el("span", { class: `badge ${r.loaded ? "on" : ""}`, text: r.loaded ? "loaded" : "not loaded" }),
            r.pinned ? el("span", { class: "badge", text: "pinned" }) : null),
          el("td", { class: "num", text: r.loaded ? formatBytes(r.memory_bytes) : "–" }),
          el("td", { class: "num", text: r.uses ?? "–" }),
          el("td", { class: "num", text: r.loaded && r.idle_seconds !== undefined ? `${Math.round(r.idle_seconds)} s` : "–" }),
          el("td", { class: "num", text: r.keep_alive_seconds ? `${r.keep_alive_seconds} s` : "never" }),
          el("td", {}, actions(m, refresh)));
      });
      box.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "models-table" },
        el("thead", {}, el("tr", {}, ...["Model", "Kind", "Quantization", "State", "Memory", "Uses", "Idle", "Keep-alive", ""]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows))));
    } catch (err) {
      box.replaceChildren(errorBox(err));
    }
  }
  page.append(el("section", {}, el("div", { class: "row between" }, heading,
    el("button", { type: "button", class: "quiet", text: "Refresh", onclick: refresh })), box));
  await refresh();
}
