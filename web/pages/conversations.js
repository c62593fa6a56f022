// Conversations kept in the browser (localStorage "ragd.conversations"): the newest 30,
// each with its messages, sources and timings, so a reload shows the history again.
const STORAGE = "ragd.conversations";
const MAX = 30;

export function newConversation(state) {
  const conv = { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: "", messages: [], updated: Date.now() };
  state.list.unshift(conv);
  state.current = conv.id;
  return conv;
}

export function loadConversations() {
  let state = null;
  try {
    state = JSON.parse(localStorage.getItem(STORAGE) || "null");
  } catch {
    state = null;
  }
  if (!state || !Array.isArray(state.list)) state = { list: [], current: null };
  for (const c of state.list) for (const m of c.messages) m.streaming = false;
  if (!state.list.length) newConversation(state);
  if (!state.list.some((c) => c.id === state.current)) state.current = state.list[0].id;
  return state;
}

export function saveConversations(state) {
  state.list = state.list.slice(0, MAX);
  try {
    localStorage.setItem(STORAGE, JSON.stringify(state));
  } catch {
    // Storage full: drop the oldest half and try once more; history is a convenience.
    state.list = state.list.slice(0, Math.max(1, state.list.length >> 1));
    try {
      localStorage.setItem(STORAGE, JSON.stringify(state));
    } catch {
      /* give up quietly */
    }
  }
}
