// trakt-doctor in the browser: the main thread of the page. It hands the
// file to the worker (worker.js, which runs the checks compiled to wasm),
// lists the exchanges as their summaries arrive, shows one in detail as the
// proxy's web view does (render.js, shared with it), filters, and copies the
// redacted report. It never sends the file anywhere: the only requests are
// for this page's own files and, when opened by `trakt-doctor open FILE`,
// that file from the same local address.

const PAGE = 300;
let all = [];          // summaries, in file order
let limit = PAGE;      // rows rendered
let selected = null;   // the index of the exchange shown
let scheduled = false;
let busy = false;
const waiting = new Map();   // answers awaited from the worker, by type

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

function ask(message) {
  return new Promise((resolve, reject) => {
    waiting.set(message.type, { resolve, reject });
    worker.postMessage(message);
  });
}

function settle(type, value, failed) {
  const pending = waiting.get(type);
  if (!pending) return;
  waiting.delete(type);
  if (failed) pending.reject(new Error(value)); else pending.resolve(value);
}

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case "batch":
      all.push(...data.summaries);
      progress(`${data.done} exchange(s) checked…`);
      schedule();
      break;
    case "done":
      busy = false;
      $("progress").hidden = true;
      $("copy-report").disabled = all.length === 0;
      document.body.dataset.state = "done";
      document.body.dataset.count = String(data.total);
      $("empty").textContent = `${data.name}: no exchange in it.`;
      schedule();
      settle("open", data);
      break;
    case "error":
      if (data.about === "open") { busy = false; $("progress").hidden = true; showError(`Cannot read the file: ${data.message}`); document.body.dataset.state = "error"; }
      settle(data.about, data.message, true);
      break;
    default:
      settle(data.type, data);
  }
};
worker.onerror = (e) => { busy = false; $("progress").hidden = true; showError(`The checks stopped: ${e.message || "an error in the worker"}`); document.body.dataset.state = "error"; };

function showError(text) { $("error").textContent = text; $("error").hidden = !text; }

function progress(text) {
  $("progress").hidden = false;
  $("progress-text").textContent = text;
}

function matches(s) {
  if ($("f-errors").checked && !s.errors && s.status != null && s.status < 400 && !s.error) return false;
  const host = $("f-host").value;
  if (host && s.host !== host) return false;
  return mentions(s, $("f-text").value.trim().toLowerCase());
}

function row(s) {
  const tr = listRow(s, s.index === selected, () => show(s.index));
  tr.dataset.index = s.index;
  return tr;
}

let rendered = [];     // the summaries whose rows are in the list, in order

function render() {
  scheduled = false;
  const visible = all.filter(matches);
  const wanted = visible.slice(0, limit);
  // While a file is read, batches only add rows at the end: those alone
  // are built, so the main thread stays free however large the file.
  const kept = rendered.length <= wanted.length && rendered.every((s, i) => wanted[i] === s);
  if (kept) $("rows").append(...wanted.slice(rendered.length).map(row));
  else $("rows").replaceChildren(...wanted.map(row));
  rendered = wanted;
  $("more").hidden = visible.length <= limit;
  $("empty").hidden = all.length > 0 || busy;
  $("shown").textContent = all.length ? `${wanted.length} of ${visible.length} shown (${all.length} in the file)` : "";
  hostOptions($("f-host"), all);
}

function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
}

// One exchange in detail, as the web view shows it, without its actions
// (nothing is sent from here): the diagnosis, the findings, the request
// and the answer with each finding marked, and its own report.
async function show(index) {
  selected = index;
  for (const tr of $("rows").querySelectorAll("tr.selected")) tr.classList.remove("selected");
  $("rows").querySelector(`tr[data-index="${index}"]`)?.classList.add("selected");
  const { exchange: ex } = await ask({ type: "detail", index });
  if (selected !== index || !ex) return;
  const marks = new Map();
  const messages = messageBlocks(ex, marks);
  const parts = exchangeHead(ex);
  let said = "";
  if (ex.diagnosis) {
    parts.push(diagnosisBlock(ex.diagnosis, [], null));
    said = [ex.diagnosis.summary, ...ex.diagnosis.causes].join("\n");
  }
  parts.push(el("div", { class: "actions", id: "actions" },
    el("button", { type: "button", id: "act-report", text: "Report this exchange", title: "A Markdown report of it to share, secrets replaced by placeholders", onclick: () => showReport([ex.id]) })),
  el("div", { id: "panel" }));
  // What auto-fix (trakt-doctor --fix, or the proxy's "Resend with fixes") would repair: "repairable".
  parts.push(...findingBlocks(ex, ex.repairs || [], said, marks, null));
  $("detail").replaceChildren(...parts, ...messages);
}

async function copy(text) {
  try { await navigator.clipboard.writeText(text); return true; } catch { return false; }
}

// The report of `ids` (all failed exchanges when empty), shown to copy or download.
async function showReport(ids) {
  showPanel(el("p", { class: "empty", id: "report-wait", text: "Making the report (the file is read again)…" }));
  let markdown;
  try {
    ({ markdown } = await ask({ type: "report", ids }));
  } catch (e) {
    const nothing = /no failed exchange/.test(e.message) ? "No failed exchange in this file: open one and use “Report this exchange”." : e.message;
    showPanel(el("p", { class: "refused", id: "refusal", text: nothing }));
    return;
  }
  const copied = await copy(markdown);
  const text = el("textarea", { id: "report-text", rows: 16, readOnly: true, value: markdown });
  showPanel(el("div", { class: "report" },
    el("p", { id: "report-note", text: (copied ? "Copied. " : "") + "A report to paste into a support thread or an issue; secrets are replaced by placeholders." }),
    text,
    el("div", { class: "buttons" },
      el("button", { type: "button", id: "report-copy", text: "Copy", onclick: async () => { text.select(); if (!(await copy(markdown))) document.execCommand("copy"); } }),
      el("a", { href: "data:text/markdown;charset=utf-8," + encodeURIComponent(markdown), download: `trakt-doctor-report${ids.length === 1 ? "-" + ids[0] : ""}.md`, text: "Download" }))));
}

// Where a report goes: under the selected exchange's actions, or atop the detail pane.
function showPanel(node) {
  const target = $("panel");
  if (target) target.replaceChildren(node); else $("detail").replaceChildren(el("div", { id: "panel" }, node));
}

async function openFile(file) {
  if (busy) return;
  busy = true;
  all = []; rendered = []; selected = null; limit = PAGE;
  showError("");
  document.body.classList.add("loaded");
  document.body.dataset.state = "reading";
  $("copy-report").disabled = true;
  $("detail").replaceChildren(el("p", { class: "empty", text: "Select an exchange to see why Trakt answered as it did." }));
  progress(`Reading ${file.name} (${(file.size / 1048576).toFixed(1)} MB)…`);
  $("bar").removeAttribute("value");
  schedule();
  try { await ask({ type: "open", file }); } catch { /* shown by the worker's error */ }
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  // Emptied, so picking the same file again (changed on disk) reads it again.
  $("file").value = "";
  if (file) openFile(file);
});
const drop = $("drop");
// A file may be dropped anywhere on the page, also once one is shown.
document.body.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
document.body.addEventListener("dragleave", () => drop.classList.remove("over"));
document.body.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) openFile(file);
});
// The drop zone is also a button that opens the file picker.
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
$("f-errors").addEventListener("change", () => { limit = PAGE; schedule(); });
$("f-host").addEventListener("change", () => { limit = PAGE; schedule(); });
$("f-text").addEventListener("input", () => { limit = PAGE; schedule(); });
$("more").addEventListener("click", () => { limit += PAGE; schedule(); });
$("copy-report").addEventListener("click", () => showReport([]));

// For the tests (tests/browser/page.mjs): each exchange as `trakt-doctor lint --format json` prints it.
window.traktDoctor = { results: async () => (await ask({ type: "results" })).results };

ask({ type: "version" }).then(({ version }) => { $("version").textContent = `${version} in the browser`; document.body.dataset.ready = "1"; },
  (e) => showError(`The checks could not start: ${e.message}`));

// `trakt-doctor open FILE` serves the file beside the page and links here with ?file=NAME.
const named = new URLSearchParams(location.search).get("file");
if (named) {
  fetch(new URL("file", location.href)).then(async (response) => {
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    openFile(new File([await response.blob()], named));
  }).catch((e) => showError(`Cannot load ${named}: ${e.message}`));
}
