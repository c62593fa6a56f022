// Ask: chat over a collection (POST /v1/rag/query, streamed) with clickable [n] citations
// and per-stage timings, or plain chat without documents (POST /v1/chat/completions,
// streamed). Conversations are kept in localStorage.
import { loadCollections, readEvents, send } from "../api.js";
import { collectionSelect, el, errorBox, field, formatMs, formatNumber } from "../ui.js";
import { loadConversations, newConversation, saveConversations } from "./conversations.js";

// Server-side stages of a RAG answer; plain chat has only the browser's first_token/total.
const STAGES = ["embed", "retrieve", "rerank", "queue", "prefill", "decode", "first_token", "total"];

// [start, end) are UTF-8 byte offsets into `text` (docs/api.md, citations' span).
function splitAtBytes(text, start, end) {
  const bytes = new TextEncoder().encode(text);
  const dec = new TextDecoder();
  const s = Math.max(0, Math.min(start, bytes.length));
  const e = Math.max(s, Math.min(end, bytes.length));
  return [dec.decode(bytes.slice(0, s)), dec.decode(bytes.slice(s, e)), dec.decode(bytes.slice(e))];
}

export function openChunk(source, citation) {
  const dialog = document.getElementById("chunk-dialog");
  document.getElementById("chunk-title").textContent = `[${source.number}] ${source.title || source.id}`;
  const meta = document.getElementById("chunk-meta");
  meta.replaceChildren();
  const rows = [
    ["Document", source.id],
    ["Title", source.title || "–"],
    ["Chunk", String(source.chunk_id)],
    ["Score", formatNumber(source.score)],
  ];
  for (const [k, v] of rows) meta.append(el("dt", { text: k }), el("dd", { text: v }));
  const body = document.getElementById("chunk-text");
  body.replaceChildren();
  if (citation?.span) {
    const [before, cited, after] = splitAtBytes(source.text, citation.span.start, citation.span.end);
    body.append(before, el("mark", { text: cited }), after);
  } else {
    body.append(source.text);
  }
  if (source.truncated) body.append(el("p", { class: "muted", text: "(truncated in the prompt)" }));
  if (!dialog.open) dialog.showModal();
  body.querySelector("mark")?.scrollIntoView({ block: "center" });
}

// The answer text with every [n] that names a source turned into a button.
function answerText(msg) {
  const sources = new Map((msg.sources || []).map((s) => [s.number, s]));
  const cites = new Map((msg.citations || []).map((c) => [c.number, c]));
  const out = el("div", { class: "text" });
  const text = msg.content || "";
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const src = sources.get(Number(m[1]));
    if (!src) continue;
    out.append(text.slice(last, m.index));
    out.append(
      el("button", {
        type: "button",
        class: "cite",
        text: m[0],
        "aria-label": `Source ${src.number}: ${src.title || src.id}`,
        onclick: () => openChunk(src, cites.get(src.number)),
      }),
    );
    last = m.index + m[0].length;
  }
  out.append(text.slice(last));
  return out;
}

function timingLine(msg) {
  const parts = [];
  if (msg.timings) {
    for (const k of STAGES) if (msg.timings[k] !== undefined) parts.push(`${k.replace("_", " ")} ${formatMs(msg.timings[k])}`);
  }
  if (msg.usage) parts.push(`${msg.usage.completion_tokens} tokens`);
  if (msg.cache?.answer && msg.cache.answer !== "miss") parts.push(`answer cache: ${msg.cache.answer}`);
  if (msg.mode) parts.push(msg.mode);
  return parts.length ? el("p", { class: "timings", text: parts.join(" · ") }) : null;
}

function renderMessage(msg) {
  if (msg.role === "user") return el("li", { class: "msg user" }, el("div", { class: "text", text: msg.content }));
  const li = el("li", { class: `msg assistant${msg.streaming ? " streaming" : ""}` }, answerText(msg));
  if (msg.error) li.append(el("p", { class: "error", role: "alert", text: msg.error }));
  const t = timingLine(msg);
  if (t) li.append(t);
  if (msg.sources?.length) {
    const list = el("ol", { class: "sources" });
    for (const s of msg.sources) {
      list.append(
        el("li", {},
          el("button", { type: "button", class: "link", onclick: () => openChunk(s, (msg.citations || []).find((c) => c.number === s.number)) },
            `[${s.number}] ${s.title || s.id}`),
          el("span", { class: "muted", text: ` ${formatNumber(s.score)}` })),
      );
    }
    li.append(el("details", {}, el("summary", { text: `Sources (${msg.sources.length})` }), list));
  }
  return li;
}

async function streamRag(msg, question, collection, topK, signal, update) {
  const res = await send("/v1/rag/query", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    // No top_k unless one was typed: the server's default (two sources) applies.
    body: JSON.stringify(topK ? { question, collection, top_k: topK, stream: true } : { question, collection, stream: true }),
    signal,
  });
  await readEvents(res, (name, data) => {
    if (name === "retrieval") Object.assign(msg, { sources: data.sources, mode: data.mode, cache: data.cache });
    else if (name === "message" && data?.delta !== undefined) msg.content += data.delta;
    else if (name === "done") {
      Object.assign(msg, { content: data.answer ?? msg.content, citations: data.citations, usage: data.usage,
                           timings: data.timings, cache: data.cache, finish: data.finish_reason });
    } else if (name === "error") msg.error = data?.error?.message || "generation failed";
    update();
  }, signal);
}

async function streamChat(msg, history, signal, update) {
  const started = performance.now();
  const res = await send("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: history, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  let first = null;
  await readEvents(res, (name, data) => {
    if (data === "[DONE]" || typeof data !== "object") return;
    if (data.error) msg.error = data.error.message;
    const piece = data.choices?.[0]?.delta?.content;
    if (piece) {
      if (first === null) first = performance.now() - started;
      msg.content += piece;
    }
    if (data.usage) msg.usage = data.usage;
    // The browser's view: time to the first token and to the end, queueing included.
    msg.timings = { first_token: first ?? undefined, total: performance.now() - started };
    update();
  }, signal);
}

// The page's state and elements: the conversations, the controls, the streaming answer.
class AskPage {
  constructor(collections) {
    this.state = loadConversations();
    this.controller = null;
    this.collection = collectionSelect(collections, "ragd.ask.collection", [["", "No collection (plain chat)"]]);
    this.topK = el("input", { type: "number", min: "1", max: "20", placeholder: "default", inputmode: "numeric" });
    this.convSelect = el("select", {});
    this.messages = el("ol", { class: "messages", "aria-live": "polite", "aria-label": "Conversation" });
    this.input = el("textarea", { rows: "2", placeholder: "Ask a question (Enter sends, Shift+Enter: new line)", required: true });
    this.sendBtn = el("button", { type: "submit", text: "Send" });
    this.stopBtn = el("button", { type: "button", class: "quiet", text: "Stop", hidden: true, onclick: () => this.controller?.abort() });
    this.convSelect.addEventListener("change", () => {
      this.state.current = this.convSelect.value;
      saveConversations(this.state);
      this.draw();
    });
    this.collection.addEventListener("change", () => this.draw());
  }

  current() {
    return this.state.list.find((c) => c.id === this.state.current);
  }

  fillConversations() {
    this.convSelect.replaceChildren(...this.state.list.map((c) => el("option", { value: c.id, text: c.title || "New conversation" })));
    this.convSelect.value = this.state.current;
  }

  draw() {
    const conv = this.current();
    this.messages.replaceChildren(...conv.messages.map(renderMessage));
    if (!conv.messages.length) {
      this.messages.append(el("li", { class: "msg hint", text: this.collection.value
        ? `Ask about the documents in “${this.collection.value}”. Answers cite their sources as [n]: click one to read it.`
        : "Plain chat with the model, no documents. Pick a collection to ask about your documents." }));
    }
    this.messages.lastElementChild?.scrollIntoView({ block: "end" });
  }

  // Starts a new conversation (fresh = true) or deletes the shown one.
  switchConversation(fresh) {
    if (!fresh) {
      this.state.list = this.state.list.filter((c) => c.id !== this.state.current);
      if (this.state.list.length) this.state.current = this.state.list[0].id;
    }
    if (fresh || !this.state.list.length) newConversation(this.state);
    saveConversations(this.state);
    this.fillConversations();
    this.draw();
    this.input.focus();
  }

  setBusy(busy) {
    // While streaming, screen readers wait and read the answer once, when complete.
    if (busy) this.messages.setAttribute("aria-busy", "true");
    else this.messages.removeAttribute("aria-busy");
    this.sendBtn.disabled = busy;
    this.stopBtn.hidden = !busy;
  }

  async ask(question) {
    const conv = this.current();
    if (!conv.title) conv.title = question.slice(0, 60);
    conv.messages.push({ role: "user", content: question });
    const msg = { role: "assistant", content: "", streaming: true, collection: this.collection.value };
    conv.messages.push(msg);
    this.fillConversations();
    this.draw();
    this.controller = new AbortController();
    this.setBusy(true);
    let pending = false;
    const update = () => {
      // One redraw per animation frame, however fast tokens arrive.
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        this.messages.lastElementChild?.replaceWith(renderMessage(msg));
        this.messages.lastElementChild?.scrollIntoView({ block: "end" });
      });
    };
    try {
      if (this.collection.value) {
        await streamRag(msg, question, this.collection.value, Number(this.topK.value) || 0, this.controller.signal, update);
      } else {
        const history = conv.messages.filter((m) => m !== msg && !m.error).map((m) => ({ role: m.role, content: m.content }));
        await streamChat(msg, history, this.controller.signal, update);
      }
    } catch (err) {
      if (err.name !== "AbortError") msg.error = err.message;
    } finally {
      msg.streaming = false;
      this.controller = null;
      this.setBusy(false);
      conv.updated = Date.now();
      saveConversations(this.state);
      this.draw();
      this.input.focus();
    }
  }

  composer() {
    const form = el("form", { class: "composer", onsubmit: (ev) => {
      ev.preventDefault();
      const q = this.input.value.trim();
      if (!q || this.controller) return;
      this.input.value = "";
      this.ask(q);
    } }, field("Question", this.input, "field grow"), el("div", { class: "row" }, this.sendBtn, this.stopBtn));
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    return form;
  }

  toolbar() {
    return el("div", { class: "toolbar" },
      field("Collection", this.collection),
      field("Sources (top-k)", this.topK, "field small"),
      field("Conversation", this.convSelect),
      el("div", { class: "row bottom" },
        el("button", { type: "button", class: "quiet", text: "New", onclick: () => this.switchConversation(true) }),
        el("button", { type: "button", class: "quiet", text: "Delete", onclick: () => this.switchConversation(false) })));
  }
}

export async function render(page) {
  const { collections, loadError } = await loadCollections();
  const ask = new AskPage(collections);
  page.append(el("section", { class: "ask" }, ask.toolbar(), loadError ? errorBox(loadError) : null, ask.messages, ask.composer()));
  ask.fillConversations();
  ask.draw();
  ask.input.focus();
  return () => ask.controller?.abort();
}
