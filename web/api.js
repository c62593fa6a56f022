// Talking to ragd's API from the page: the API key (asked for once on a 401, kept in
// localStorage, sent as Authorization: Bearer), JSON requests with readable errors, and
// Server-Sent Events read from a fetch() body.

const KEY_STORAGE = "ragd.apiKey";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
  document.getElementById("key-button").hidden = !key;
}

export function authHeaders(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

// One key prompt at a time: requests that get a 401 while it is open wait for it. It
// resolves with the new key, or rejects when the user cancels.
let pendingPrompt = null;

export function askForKey(reason = "") {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  const error = document.getElementById("key-error");
  error.hidden = !reason;
  error.textContent = reason;
  input.value = "";
  pendingPrompt = new Promise((resolve, reject) => {
    const form = document.getElementById("key-form");
    const cancel = document.getElementById("key-cancel");
    const done = () => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      pendingPrompt = null;
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      done();
      dialog.close();
      setApiKey(key);
      resolve(key);
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done();
      dialog.close();
      reject(new ApiError(401, "an API key is needed (cancelled)"));
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return pendingPrompt;
}

async function errorFrom(res) {
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  const message = body?.error?.message || text.trim() || res.statusText || "request failed";
  return new ApiError(res.status, `${res.status}: ${message}`, body);
}

// fetch() with the key; on 401 asks for a key (saying why when one was sent and refused)
// and tries again, until the user cancels. Throws ApiError for any other non-2xx answer.
export async function send(path, options = {}) {
  for (;;) {
    const sentKey = apiKey();
    const res = await fetch(path, { ...options, headers: authHeaders(options.headers || {}) });
    if (res.status !== 401) {
      if (!res.ok) throw await errorFrom(res);
      return res;
    }
    const err = await errorFrom(res);
    if (sentKey && apiKey() === sentKey) setApiKey("");
    await askForKey(sentKey ? `The server refused that key (${err.message}). Try another.` : "");
  }
}

export async function getJson(path) {
  return (await send(path)).json();
}

// The collections a page offers: {collections, loadError}; a failure is shown, not thrown,
// so that the page still renders (plain chat needs no collection).
export async function loadCollections() {
  try {
    return { collections: (await getJson("/v1/collections")).data, loadError: null };
  } catch (err) {
    return { collections: [], loadError: err };
  }
}

export async function postJson(path, body, method = "POST") {
  const res = await send(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

export async function del(path) {
  return (await send(path, { method: "DELETE" })).json();
}

// Reads an SSE response: calls onEvent(name, data) for each event ("message" when it has
// no `event:` line), with `data` parsed as JSON unless it is "[DONE]". Comments
// (keep-alives) are skipped. Resolves when the stream ends.
export async function readEvents(res, onEvent, signal) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const dispatch = (block) => {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    const text = data.join("\n");
    let parsed = text;
    if (text !== "[DONE]") {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* leave as text */
      }
    }
    onEvent(name, parsed);
  };
  for (;;) {
    if (signal?.aborted) {
      reader.cancel();
      return;
    }
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
  if (buffer.trim()) dispatch(buffer);
}

// Uploads one file as multipart form data with XMLHttpRequest (fetch reports no upload
// progress). onProgress(fraction) during the upload. Resolves with {status, body}.
export function uploadFile(path, file, onProgress) {
  const attempt = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      const key = apiKey();
      if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
      };
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = { error: { message: xhr.responseText || xhr.statusText } };
        }
        resolve({ status: xhr.status, body, sentKey: key });
      };
      xhr.onerror = () => reject(new ApiError(0, "network error: the server could not be reached"));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  return (async () => {
    for (;;) {
      const r = await attempt();
      if (r.status !== 401) return r;
      if (r.sentKey && apiKey() === r.sentKey) setApiKey("");
      await askForKey(r.sentKey ? "The server refused that key. Try another." : "");
    }
  })();
}
