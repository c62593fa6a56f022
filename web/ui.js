// Small DOM helpers shared by the pages. Text is always set as text (never as HTML), so
// document content and server messages cannot inject markup.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

let uid = 0;
// A labelled control: <label for=id>text</label> + the control, wrapped in a div.
export function field(labelText, control, cls = "field") {
  if (!control.id) control.id = `f${++uid}`;
  return el("div", { class: cls }, el("label", { for: control.id, text: labelText }), control);
}

export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

export function formatNumber(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toFixed(digits);
}

export function toast(message, isError = false) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.className = isError ? "error" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), isError ? 8000 : 3000);
}

export function errorBox(err) {
  return el("p", { class: "error", role: "alert", text: err?.message || String(err) });
}

// A <select> of collections; keeps the last choice in localStorage under `storageKey`.
export function collectionSelect(collections, storageKey, extraOptions = []) {
  const select = el("select", {});
  for (const [value, label] of extraOptions) select.append(el("option", { value, text: label }));
  for (const c of collections) {
    select.append(el("option", { value: c.name, text: `${c.name} (${c.documents} ${c.documents === 1 ? "doc" : "docs"})` }));
  }
  const saved = localStorage.getItem(storageKey);
  if (saved !== null && [...select.options].some((o) => o.value === saved)) select.value = saved;
  select.addEventListener("change", () => localStorage.setItem(storageKey, select.value));
  return select;
}
