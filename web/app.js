// The single-page app: a tab per page, routed by the URL hash (#/ask, #/documents, ...).
// Each page is a module loaded on first visit, exporting render(container), which may
// return a function that stops its timers when the user leaves the page.
import { apiKey, askForKey, setApiKey } from "./api.js";
import { errorBox } from "./ui.js";

const PAGES = ["ask", "documents", "search", "models", "metrics"];
let leave = null;
let generation = 0;

async function show() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  if (!PAGES.includes(name)) {
    location.replace("#/ask");
    return;
  }
  for (const p of PAGES) {
    const tab = document.getElementById(`tab-${p}`);
    tab.setAttribute("aria-selected", String(p === name));
    tab.tabIndex = p === name ? 0 : -1;
  }
  if (leave) leave();
  leave = null;
  document.getElementById("toast").hidden = true;
  const page = document.getElementById("page");
  page.setAttribute("aria-labelledby", `tab-${name}`);
  page.dataset.page = name;
  page.replaceChildren();
  const mine = ++generation;
  try {
    const mod = await import(`./pages/${name}.js`);
    if (mine !== generation) return;  // the user moved on while the module loaded
    leave = (await mod.render(page)) || null;
  } catch (err) {
    if (mine === generation) page.append(errorBox(err));
  }
}

// Tabs follow the WAI-ARIA pattern: arrows move between them, Home/End jump.
function onTabKey(ev) {
  const tabs = PAGES.map((p) => document.getElementById(`tab-${p}`));
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  let j = null;
  if (ev.key === "ArrowRight") j = (i + 1) % tabs.length;
  else if (ev.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
  else if (ev.key === "Home") j = 0;
  else if (ev.key === "End") j = tabs.length - 1;
  if (j === null) return;
  ev.preventDefault();
  tabs[j].focus();
  location.hash = `#/${PAGES[j]}`;
}

document.getElementById("tabs").addEventListener("keydown", onTabKey);
document.getElementById("key-button").hidden = !apiKey();
document.getElementById("key-button").addEventListener("click", async () => {
  setApiKey("");
  try {
    await askForKey();
    show();
  } catch {
    /* cancelled */
  }
});
document.getElementById("chunk-close").addEventListener("click", () => document.getElementById("chunk-dialog").close());
window.addEventListener("hashchange", show);
show();
