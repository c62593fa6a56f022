// Documents: collections (create, delete, counts), the documents of one (list, filter by
// name, delete), and uploads of several files at once (drag and drop or a file picker),
// each with a progress bar: the upload itself, then its ingestion job (GET /v1/ingest/{id}).
import { del, getJson, postJson, uploadFile } from "../api.js";
import { el, errorBox, field, formatBytes, toast } from "../ui.js";

const ACCEPT = ".txt,.md,.markdown,.html,.htm,.pdf,.jsonl";
const UPLOAD_SHARE = 0.3;  // of a file's bar: the upload; the rest is the ingestion job

const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function collectionsTable(collections, selected, onOpen, onDelete) {
  if (!collections.length) return el("p", { class: "muted", text: "No collections yet: create one, or upload files below." });
  const body = collections.map((c) =>
    el("tr", { class: c.name === selected ? "selected" : "" },
      el("th", { scope: "row" }, el("button", { type: "button", class: "link", text: c.name, onclick: () => onOpen(c.name),
                                                "aria-label": `Open collection ${c.name}`,
                                                title: c.embedding_model ? `embedded with ${c.embedding_model}` : "no vectors" })),
      el("td", { class: "num", text: c.documents }),
      el("td", { class: "num", text: c.chunks }),
      el("td", { class: "num", text: c.embeddings }),
      el("td", {}, el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete collection ${c.name}`,
                                  onclick: () => onDelete(c.name) }))));
  return el("div", { class: "table-wrap" }, el("table", { id: "collections-table" },
    el("thead", {}, el("tr", {}, ...["Name", "Documents", "Chunks", "Vectors", ""].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, body)));
}

function documentsTable(docs, filter, onDelete) {
  const f = filter.trim().toLowerCase();
  const shown = docs.filter((d) => !f || d.id.toLowerCase().includes(f) || (d.title || "").toLowerCase().includes(f));
  if (!shown.length) return el("p", { class: "muted", text: docs.length ? "No document matches the filter." : "No documents in this collection." });
  const rows = shown.map((d) =>
    el("tr", {},
      el("th", { scope: "row", class: "doc-id", text: d.id }),
      el("td", { text: d.title || "–" }),
      el("td", { class: "num", text: d.chunks }),
      el("td", { class: "wide-only", text: d.ingested_at ? new Date(d.ingested_at * 1000).toLocaleString() : "–" }),
      el("td", {}, el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete document ${d.id}`,
                                  onclick: () => onDelete(d.id) }))));
  return el("div", { class: "table-wrap" }, el("table", { id: "documents-table" },
    el("thead", {}, el("tr", {}, ...["Document", "Title", "Chunks", "Ingested", ""].map((h) => el("th", { scope: "col", text: h, class: h === "Ingested" ? "wide-only" : "" })))),
    el("tbody", {}, rows)));
}

// One file's upload and ingestion; updates its row as it goes. Resolves true on success.
async function uploadOne(collection, file, row) {
  const bar = row.querySelector("progress");
  const status = row.querySelector(".status");
  const set = (value, text, cls = "") => {
    bar.value = value;
    status.textContent = text;
    status.className = `status ${cls}`;
  };
  try {
    const r = await uploadFile(`/v1/collections/${enc(collection)}/documents?wait=false`, file, (p) =>
      set(p * UPLOAD_SHARE, `uploading ${Math.round(p * 100)} %`));
    if (r.status !== 202 && r.status !== 200) throw new Error(`${r.status}: ${r.body?.error?.message || "upload failed"}`);
    let job = r.body;
    while (job.object === "ingest.job" && (job.status === "queued" || job.status === "running")) {
      set(UPLOAD_SHARE + (1 - UPLOAD_SHARE) * (job.progress || 0), `${job.phase || job.status} ${Math.round((job.progress || 0) * 100)} %`);
      await sleep(250);
      job = await getJson(`/v1/ingest/${enc(job.id)}`);
    }
    if (job.status === "failed" || job.status === "cancelled" || job.status === "lost") throw new Error(job.error?.message || `ingestion ${job.status}`);
    const res = job.result || job;
    set(1, `done: ${res.documents_added ?? 0} added, ${res.documents_updated ?? 0} updated, ${res.chunks_written ?? 0} chunks`, "ok");
    return true;
  } catch (err) {
    set(0, err.message, "error");
    row.classList.add("failed");
    return false;
  }
}

// The page's state: the collections, the open one and its documents.
class DocumentsPage {
  constructor() {
    this.collections = [];
    this.selected = localStorage.getItem("ragd.documents.collection") || "";
    this.docs = [];
    this.total = 0;
    this.colBox = el("div", {});
    this.docBox = el("div", {});
    this.docTitle = el("h2", { id: "docs-title" });
    this.filter = el("input", { type: "search", placeholder: "Filter by name or title" });
    this.uploads = el("ul", { class: "uploads", "aria-label": "Uploads" });
    this.filter.addEventListener("input", () => this.drawDocuments());
  }

  drawCollections() {
    this.colBox.replaceChildren(collectionsTable(this.collections, this.selected, (n) => this.open(n), (n) => this.removeCollection(n)));
  }

  async refreshCollections() {
    try {
      this.collections = (await getJson("/v1/collections")).data;
      // A remembered collection that is gone (deleted here or elsewhere) gives way to the first.
      if (!this.collections.some((c) => c.name === this.selected)) this.selected = this.collections[0]?.name || "";
      this.drawCollections();
    } catch (err) {
      this.colBox.replaceChildren(errorBox(err));
    }
  }

  async refreshDocuments() {
    const name = this.selected;
    this.docTitle.textContent = name ? `Documents in “${name}”` : "Documents";
    if (!name || !this.collections.some((c) => c.name === name)) {
      this.docs = [];
      this.docBox.replaceChildren(el("p", { class: "muted",
        text: name ? `“${name}” does not exist yet: uploading creates it.` : "Pick or create a collection." }));
      return;
    }
    try {
      const r = await getJson(`/v1/collections/${enc(name)}/documents?limit=1000`);
      this.docs = r.data;
      this.total = r.total;
      this.drawDocuments();
    } catch (err) {
      this.docBox.replaceChildren(errorBox(err));
    }
  }

  drawDocuments() {
    this.docBox.replaceChildren(documentsTable(this.docs, this.filter.value, (id) => this.removeDocument(id)),
      this.total > this.docs.length ? el("p", { class: "muted", text: `Showing the first ${this.docs.length} of ${this.total}.` }) : "");
  }

  async refresh() {
    await this.refreshCollections();
    await this.refreshDocuments();
  }

  async open(name) {
    this.selected = name;
    localStorage.setItem("ragd.documents.collection", name);
    this.drawCollections();
    await this.refreshDocuments();
  }

  // Runs a deletion after the user confirms it; reports the outcome in a toast.
  async confirmDelete(question, path, done) {
    if (!confirm(question)) return;
    try {
      await del(path);
      toast(done);
    } catch (err) {
      toast(err.message, true);
    }
    await this.refresh();
  }

  removeCollection(name) {
    return this.confirmDelete(`Delete collection “${name}” with all its documents?`, `/v1/collections/${enc(name)}`,
                              `Deleted collection ${name}`);
  }

  removeDocument(id) {
    return this.confirmDelete(`Delete document “${id}”?`, `/v1/collections/${enc(this.selected)}/documents/${enc(id)}`,
                              `Deleted ${id}`);
  }

  async uploadAll(files) {
    if (!files.length) return;
    const target = this.selected || "default";
    if (!this.selected) await this.open(target);
    const rows = [...files].map((f) => {
      const row = el("li", { class: "upload" },
        el("span", { class: "name", text: `${f.name} (${formatBytes(f.size)})` }),
        el("progress", { max: "1", value: "0", "aria-label": `Progress of ${f.name}` }),
        el("span", { class: "status", text: "waiting" }));
      this.uploads.prepend(row);
      return [f, row];
    });
    // One at a time: the server ingests jobs in order anyway, and the bars stay readable.
    let ok = 0;
    for (const [f, row] of rows) if (await uploadOne(target, f, row)) ok++;
    toast(`${ok} of ${rows.length} file(s) ingested into ${target}`, ok < rows.length);
    await this.refresh();
  }

  createForm() {
    const name = el("input", { type: "text", required: true, placeholder: "e.g. docs" });
    return el("form", { class: "row bottom", onsubmit: async (ev) => {
      ev.preventDefault();
      const wanted = name.value.trim();
      try {
        await postJson("/v1/collections", { name: wanted });
        name.value = "";
        await this.refreshCollections();
        await this.open(wanted);
      } catch (err) {
        toast(err.message, true);
      }
    } }, field("New collection", name), el("button", { type: "submit", text: "Create" }));
  }

  // The drop zone is for the mouse; its "choose files" button is the keyboard's way in.
  dropZone() {
    const input = el("input", { type: "file", multiple: true, accept: ACCEPT });
    input.addEventListener("change", () => {
      this.uploadAll(input.files);
      input.value = "";
    });
    const drop = el("div", { class: "dropzone" },
      el("p", { text: "Drop .txt .md .html .pdf .jsonl files here, or " },
        el("button", { type: "button", class: "link", text: "choose files", onclick: () => input.click() })));
    for (const t of ["dragenter", "dragover"]) {
      drop.addEventListener(t, (ev) => {
        ev.preventDefault();
        drop.classList.add("over");
      });
    }
    for (const t of ["dragleave", "drop"]) drop.addEventListener(t, () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      this.uploadAll(ev.dataTransfer.files);
    });
    return [field("Upload files", input, "field visually-hidden-field"), drop];
  }
}

export async function render(page) {
  const p = new DocumentsPage();
  page.append(el("div", { class: "columns" },
    el("section", { "aria-labelledby": "col-title" }, el("h2", { id: "col-title", text: "Collections" }), p.colBox, p.createForm()),
    el("section", { "aria-labelledby": "docs-title" }, p.docTitle, ...p.dropZone(), p.uploads,
      field("Filter documents", p.filter), p.docBox)));
  await p.refresh();
}
