// trakt-doctor's live view: a list of exchanges fed by server-sent events,
// filters, and a detail pane that puts the diagnosis first and marks each
// finding where it is in the request. No framework, no network access
// beyond this proxy. The detail pane's rendering is shared with the
// browser page: page/render.js, served as /render.js before this script.
"use strict";

const token = document.querySelector('meta[name="trakt-doctor-token"]').content;
// A page opened without the start link's unlock cookie has no token: it
// reads, but every action is locked (the server refuses them anyway).
const locked = !token;
const LOCKED = "Locked: open the link trakt-doctor printed when it started";
const PAGE = 300;
let all = [];          // summaries, oldest first
let limit = PAGE;      // rows rendered (newest first)
let selected = null;
let scheduled = false;

function matches(s) {
  const status = $("f-status").value;
  if (status === "failed" && !(s.status == null || s.error)) return false;
  if (status && status !== "failed" && (s.status == null || String(s.status)[0] !== status)) return false;
  const severity = $("f-severity").value;
  if (severity === "error" && !s.errors) return false;
  if (severity === "warning" && !s.warnings) return false;
  if (severity === "info" && !s.infos) return false;
  if (severity === "clean" && (s.errors || s.warnings || s.infos)) return false;
  const host = $("f-host").value;
  if (host && s.host !== host) return false;
  return mentions(s, $("f-text").value.trim().toLowerCase());
}

function row(s) {
  return listRow(s, s.id === selected, () => show(s.id));
}

function render() {
  scheduled = false;
  const visible = [];
  for (let i = all.length - 1; i >= 0; i--) if (matches(all[i])) visible.push(all[i]);
  const rows = $("rows");
  rows.replaceChildren(...visible.slice(0, limit).map(row));
  $("more").hidden = visible.length <= limit;
  $("empty").hidden = all.length > 0;
  $("shown").textContent = `${Math.min(limit, visible.length)} of ${visible.length} shown (${all.length} captured)`;
  hostOptions($("f-host"), all);
}

function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
}

// ---- Notices: what the proxy says about itself (a client that refused the
// certificate never shows in the list, so a banner says why).

let notices = [];
const DISMISSED = "trakt-doctor-dismissed";
const dismissed = new Set((() => { try { return JSON.parse(sessionStorage.getItem(DISMISSED) || "[]"); } catch { return []; } })());
const noticeKey = (n) => `${n.kind} ${n.client || ""} ${n.host}`;

// Text with `code` in backticks and the CA's page (/ca) as a link.
function richText(text) {
  return text.split(/(`[^`]+`|\/ca\b)/).filter((p) => p).map((p) =>
    p.startsWith("`") ? el("code", { text: p.slice(1, -1) }) : p === "/ca" ? el("a", { href: "/ca", text: "/ca" }) : p);
}

function renderNotices() {
  const open = notices.filter((n) => !dismissed.has(noticeKey(n)));
  const target = $("notices");
  if (!open.length) { target.replaceChildren(); return; }
  // Said once for all of them: the fix and the programs with their own trust stores.
  const first = open[0];
  target.replaceChildren(el("section", { class: "notice", id: "untrusted-ca", role: "alert", "aria-label": "Untrusted CA" },
    el("button", { type: "button", class: "dismiss", id: "dismiss-notice", title: "Dismiss", "aria-label": "Dismiss", text: "×",
      onclick: () => {
        for (const n of open) dismissed.add(noticeKey(n));
        try { sessionStorage.setItem(DISMISSED, JSON.stringify([...dismissed])); } catch { /* kept for this page only */ }
        renderNotices();
      } }),
    ...open.map((n) => el("p", { class: "refusal", "data-host": n.host }, el("b", { text: n.message }))),
    el("p", { class: "fix-ca" }, ...richText(first.fix)),
    el("p", { class: "own-stores", text: first.own_trust_stores })));
}

function addNotice(n) {
  if (!n || !n.kind) { loadState(); return; }
  if (!notices.some((m) => noticeKey(m) === noticeKey(n))) notices.push(n);
  renderNotices();
}

// ---- The detail pane.

// A button that acts: disabled, saying why, on a page opened without the start link.
const actionButton = (props) => el("button", locked ? { ...props, disabled: true, title: LOCKED } : props);


async function show(id) {
  selected = id;
  schedule();
  const detail = $("detail");
  const [response, repaired] = await Promise.all([fetch(`/api/exchanges/${id}`), fetch(`/api/exchanges/${id}/repairs`)]);
  if (selected !== id) return;
  if (!response.ok) { detail.replaceChildren(el("p", { class: "empty", text: "This exchange is no longer stored." })); return; }
  const ex = await response.json();
  const repairs = repaired.ok ? (await repaired.json()).repairs || [] : [];
  if (selected !== id) return;

  // The request and the answer first (the findings' links point into them).
  const marks = new Map();
  const messages = messageBlocks(ex, marks);
  const parts = exchangeHead(ex);
  const fixButton = actionButton({ type: "button", id: "act-resend-fixed", class: "primary", text: "Resend with fixes", title: "Send it with the repairs auto-fix would make", onclick: () => prepare(ex, "fixed") });
  let said = "";
  if (ex.diagnosis) {
    parts.push(diagnosisBlock(ex.diagnosis, repairs, fixButton));
    said = [ex.diagnosis.summary, ...ex.diagnosis.causes].join("\n");
  }
  // The button stays with the other actions unless the diagnosis offers it.
  const inDiagnosis = ex.diagnosis != null && offersFix(ex.diagnosis, repairs);
  if (!inDiagnosis) fixButton.classList.remove("primary");
  parts.push(actionBar(ex, inDiagnosis ? null : fixButton), el("div", { id: "panel" }), el("div", { id: "compare" }));
  parts.push(...findingBlocks(ex, repairs, said, marks, "/rules"));
  detail.replaceChildren(...parts, ...messages);
}

// ---- Acting on an exchange: resend (as captured, with fixes, edited), copy as curl, report.

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// The actions on `ex`; `fixButton` ("Resend with fixes") is here unless the
// diagnosis offers it as its remedy (then null).
function actionBar(ex, fixButton) {
  const curlMenu = el("div", { id: "curl-menu", class: "menu", hidden: true },
    el("button", { type: "button", id: "curl-posix", text: "POSIX shell (bash, zsh)", onclick: () => copyCurl(ex, "posix") }),
    el("button", { type: "button", id: "curl-powershell", text: "PowerShell", onclick: () => copyCurl(ex, "powershell") }),
    el("label", {}, el("input", { type: "checkbox", id: "curl-fixed" }), " with the repairs"),
    el("label", { title: "Put the captured secrets themselves in the command instead of environment variables" },
      el("input", { type: "checkbox", id: "curl-reveal" }), " real secrets"));
  const button = actionButton;
  return el("div", { class: "actions", id: "actions" },
    button({ type: "button", id: "act-resend", text: "Resend", title: "Send the request again as it was captured", onclick: () => prepare(ex, "captured") }),
    fixButton,
    button({ type: "button", id: "act-edit", text: "Edit and resend", onclick: () => editForm(ex) }),
    el("span", { class: "menu-wrap" },
      button({ type: "button", id: "act-curl", text: "Copy as curl ▾", onclick: () => { curlMenu.hidden = !curlMenu.hidden; } }),
      curlMenu),
    button({ type: "button", id: "act-report", text: "Report", title: "A Markdown report to share, secrets replaced by placeholders", onclick: () => showReport(ex) }));
}

async function act(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "x-trakt-doctor-token": token, "content-type": "application/json" }, body: JSON.stringify(body || {}) });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  return { ok: response.ok, status: response.status, data };
}

function panel(...children) {
  // A new action replaces the last comparison.
  if (children.length && $("compare")) $("compare").replaceChildren();
  const node = $("panel");
  if (node) node.replaceChildren(...children);
  return node;
}

function errorText(result) {
  if (typeof result.data === "string") return result.data.trim();
  return result.data.error || JSON.stringify(result.data);
}


function fixList(fixes) {
  return el("ul", { class: "fixes" }, ...fixes.map((x) =>
    el("li", { class: "fix", "data-rule": x.rule }, el("b", { text: x.rule + ": " }), el("del", { text: x.before }), " → ", el("ins", { text: x.after }))));
}

// Asks for the secrets the server no longer holds (an exchange loaded from a
// file, or evicted): one field per redacted value, by name.
function secretFields(missing) {
  if (!missing || !missing.length) return null;
  return el("fieldset", { class: "secrets", id: "secrets" },
    el("legend", { text: "The captured secrets are no longer in memory: enter them to resend" }),
    ...missing.map((m) => m.byName
      ? el("label", {}, `${m.name} (in ${m.place}) `,
        el("input", { type: "password", autocomplete: "off", "data-secret": m.id, name: m.id }))
      : el("p", { class: "hint", text: `A ${m.name} in ${m.place} cannot be given by name: use Edit and resend to type that header.` })));
}

function secretValues() {
  const out = {};
  for (const input of document.querySelectorAll("#panel [data-secret]")) if (input.value) out[input.dataset.secret] = input.value;
  return out;
}

// Resend as captured or with fixes: the server says what will be sent and
// what it changes; writes (and every resend with fixes) wait for a click.
async function prepare(ex, mode, draft) {
  panel(el("p", { class: "empty", text: "Preparing…" }));
  const prep = await act(`/api/exchanges/${ex.id}/prepare`, { mode, draft });
  if (!prep.ok) { panel(el("p", { class: "refused", id: "refusal", text: errorText(prep) })); return; }
  const p = prep.data;
  const missing = p.missing || [];
  if (!p.write && mode !== "fixed" && !missing.length && !p.refusal) { await send(ex, mode, draft, {}, false); return; }
  const parts = [];
  if (mode === "fixed") {
    parts.push(el("h3", { text: "Repairs to apply" }));
    parts.push(p.fixes && p.fixes.length ? fixList(p.fixes) : el("p", { class: "empty", id: "no-repairs", text: "Auto-fix has nothing to repair in this request: it would be sent as captured." }));
  }
  if (p.refusal) parts.push(el("p", { class: "refused", id: "refusal", text: p.refusal }));
  if (p.write) parts.push(el("p", { class: "confirm-text", id: "confirm-text", text: `This ${p.draft.method} changes your account. ${p.change}` }));
  parts.push(secretFields(missing));
  parts.push(el("div", { class: "buttons" },
    el("button", { type: "button", id: "confirm-send", class: "primary", text: p.write ? "Send the write" : "Send", disabled: !!p.refusal,
      onclick: () => send(ex, mode, draft, secretValues(), false) }),
    el("button", { type: "button", id: "confirm-cancel", text: "Cancel", onclick: () => panel() })));
  panel(el("div", { class: "confirm", id: "confirm" }, ...parts));
}

async function send(ex, mode, draft, secrets, force) {
  panel(el("p", { class: "empty", text: "Sending…" }));
  const result = await act(`/api/exchanges/${ex.id}/resend`, { mode, draft, secrets, confirmed: true, force });
  if (!result.ok) {
    const data = typeof result.data === "object" ? result.data : {};
    panel(el("div", { class: "confirm" },
      el("p", { class: "refused", id: "refusal", text: errorText(result) }),
      data.missing && data.missing.length ? secretFields(data.missing) : null,
      data.spent ? el("button", { type: "button", id: "send-anyway", text: "Send it anyway", onclick: () => send(ex, mode, draft, secrets, true) }) : null,
      data.missing && data.missing.length ? el("button", { type: "button", id: "confirm-send", class: "primary", text: "Send", onclick: () => send(ex, mode, draft, secretValues(), force) }) : null));
    return;
  }
  let resent = result.data.exchange;
  if (!resent) {
    const again = await fetch(`/api/exchanges/${result.data.id}`);
    resent = again.ok ? await again.json() : { id: result.data.id, response: result.data.status ? { status: result.data.status } : null, error: result.data.error, findings: [] };
  }
  panel(el("p", { class: "sent", id: "sent", text: `Sent again as #${result.data.id}.` }));
  compare(ex, resent);
}

function headerLines(headers) {
  const lines = [];
  for (const [name, value] of Array.isArray(headers) ? headers : Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  return lines.join("\n");
}

function parseHeaderLines(text) {
  return text.split("\n").map((l) => l.trim()).filter((l) => l).map((l) => {
    const at = l.indexOf(":");
    return at < 0 ? [l, ""] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
  });
}

function formDraft() {
  return { method: $("edit-method").value, url: $("edit-url").value, headers: parseHeaderLines($("edit-headers").value), body: $("edit-body").value };
}

let lintTimer = null;
async function lintDraft() {
  // The form may be gone (sent, cancelled) by the time the timer fires.
  if (!$("edit-method")) return;
  const result = await act("/api/lint", formDraft());
  const target = $("edit-findings");
  if (!target) return;
  if (!result.ok) { target.replaceChildren(el("p", { class: "refused", text: errorText(result) })); return; }
  target.replaceChildren(findingList(result.data.findings));
  target.dataset.count = String(result.data.findings.length);
  target.dataset.rules = result.data.findings.map((f) => f.rule).join(" ");
}

function editForm(ex) {
  const r = ex.request;
  const onInput = () => { clearTimeout(lintTimer); lintTimer = setTimeout(lintDraft, 150); };
  const body = r.body && r.body.text != null ? r.body.text : "";
  panel(el("form", { class: "edit", id: "edit", onsubmit: (e) => { e.preventDefault(); prepare(ex, "edited", formDraft()); } },
    el("div", { class: "line" },
      el("input", { id: "edit-method", value: r.method, size: 7, oninput: onInput, "aria-label": "method" }),
      el("input", { id: "edit-url", value: r.url, oninput: onInput, "aria-label": "URL" })),
    el("label", { text: "Headers (one per line, name: value)" }),
    el("textarea", { id: "edit-headers", rows: 6, value: headerLines(r.headers), oninput: onInput }),
    el("label", { text: "Body" }),
    el("textarea", { id: "edit-body", rows: 6, value: body, oninput: onInput }),
    el("p", { class: "hint", text: "Secrets show as fingerprints (sha256:…); leave them as they are to send the captured value." }),
    el("h3", { text: "Findings as you type" }),
    el("div", { id: "edit-findings" }),
    el("div", { class: "buttons" },
      el("button", { type: "submit", id: "edit-send", class: "primary", text: "Send" }),
      el("button", { type: "button", text: "Cancel", onclick: () => panel() }))));
  lintDraft();
}

// A line diff (longest common subsequence), for response bodies.
function lineDiff(a, b) {
  const x = a ? a.split("\n") : [], y = b ? b.split("\n") : [];
  if (x.length * y.length > 4e6) return [{ op: "-", text: a }, { op: "+", text: b }];
  const n = x.length, m = y.length;
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    table[i][j] = x[i] === y[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: " ", text: x[i] }); i++; j++; }
    else if (table[i + 1][j] >= table[i][j + 1]) out.push({ op: "-", text: x[i++] });
    else out.push({ op: "+", text: y[j++] });
  }
  while (i < n) out.push({ op: "-", text: x[i++] });
  while (j < m) out.push({ op: "+", text: y[j++] });
  return out;
}

function bodyText(r) {
  if (!r || !r.body) return "";
  return r.body.text != null ? pretty(r.body.text) : `(binary, ${r.body.size} bytes)`;
}

function outcomeOf(ex) {
  return ex.response ? String(ex.response.status) : `failed: ${ex.error}`;
}

function column(title, ex, cls) {
  return el("div", { class: "side " + cls },
    el("h3", { text: title }),
    el("p", { class: "status " + (ex.response ? "s" + String(ex.response.status)[0] : "sfail"), text: outcomeOf(ex) }),
    el("p", { class: "summary", text: ex.diagnosis ? ex.diagnosis.summary : "No diagnosis: nothing went wrong." }),
    findingList(ex.findings.filter((f) => !f.fixed), ex.diagnosis ? ex.diagnosis.summary : ""));
}

function compare(original, resent) {
  const diff = lineDiff(bodyText(original.response), bodyText(resent.response));
  const pre = el("pre", { class: "diff", id: "body-diff" }, ...diff.map((d) =>
    el("span", { class: d.op === "+" ? "add" : d.op === "-" ? "del" : "same", text: `${d.op} ${d.text}\n` })));
  const node = $("compare");
  if (!node) return;
  node.replaceChildren(el("section", { class: "compare", id: "side-by-side", "data-original": original.id, "data-resent": resent.id },
    el("div", { class: "sides" },
      column(`Original #${original.id}`, original, "original"),
      column(`Resent #${resent.id}`, resent, "resent")),
    el("h3", { text: "Response body: what changed" }), pre));
}

async function copyCurl(ex, shell) {
  const fixed = $("curl-fixed").checked;
  const reveal = $("curl-reveal").checked;
  const result = await act(`/api/exchanges/${ex.id}/curl`, { shell, fixed, reveal });
  $("curl-menu").hidden = true;
  if (!result.ok) { panel(el("p", { class: "refused", id: "refusal", text: errorText(result) })); return; }
  const command = typeof result.data === "string" ? result.data : result.data.command;
  let copied = false;
  try { await navigator.clipboard.writeText(command); copied = true; } catch { /* shown below to copy by hand */ }
  panel(el("div", { class: "curl" },
    el("p", { text: copied ? `Copied (${shell === "powershell" ? "PowerShell" : "POSIX shell"}).` : "Copy this command:" }),
    el("pre", { id: "curl-command", "data-shell": shell, text: command })));
}

async function showReport(ex) {
  const result = await act(`/api/exchanges/${ex.id}/report`);
  if (!result.ok) { panel(el("p", { class: "refused", id: "refusal", text: errorText(result) })); return; }
  const text = el("textarea", { id: "report-text", rows: 16, readOnly: true, value: result.data });
  panel(el("div", { class: "report" },
    el("p", { text: "A report to paste into a support thread or an issue; secrets are replaced by placeholders." }),
    text,
    el("div", { class: "buttons" },
      el("button", { type: "button", id: "report-copy", text: "Copy", onclick: async () => { text.select(); try { await navigator.clipboard.writeText(result.data); } catch { document.execCommand("copy"); } } }),
      el("a", { href: "data:text/markdown;charset=utf-8," + encodeURIComponent(result.data), download: `trakt-doctor-report-${ex.id}.md`, text: "Download" }))));
}

async function load() {
  const response = await fetch("/api/exchanges");
  all = await response.json();
  schedule();
}

async function loadState() {
  const state = await (await fetch("/api/state")).json();
  const button = $("fix-toggle");
  button.textContent = `Auto-fix: ${state.fix ? "on" : "off"}`;
  button.classList.toggle("on", state.fix);
  button.dataset.on = state.fix ? "1" : "";
  notices = state.notices || [];
  renderNotices();
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "x-trakt-doctor-token": token, "content-type": "application/json" }, body: JSON.stringify(body || {}) });
  if (!response.ok) alert(await response.text());
}

function connect() {
  const source = new EventSource("/api/stream");
  // (Re)connected: the notices told while away are in the state.
  source.onopen = () => { $("live").textContent = "live"; $("live").classList.add("ok"); loadState(); };
  source.onmessage = (event) => { all.push(JSON.parse(event.data)); if (all.length > 10000) all.shift(); schedule(); };
  source.addEventListener("lagged", load);
  source.addEventListener("notice", (event) => addNotice(JSON.parse(event.data)));
  source.onerror = () => { $("live").textContent = "reconnecting…"; $("live").classList.remove("ok"); };
}

for (const id of ["f-status", "f-severity", "f-host"]) $(id).addEventListener("change", () => { limit = PAGE; schedule(); });
$("f-text").addEventListener("input", () => { limit = PAGE; schedule(); });
$("more").addEventListener("click", () => { limit += PAGE; schedule(); });
$("clear").addEventListener("click", async () => { await post("/api/clear"); all = []; selected = null; $("detail").replaceChildren(); schedule(); });
$("fix-toggle").addEventListener("click", async () => { await post("/api/fix", { enabled: !$("fix-toggle").dataset.on }); await loadState(); });

if (locked) for (const id of ["clear", "fix-toggle"]) { $(id).disabled = true; $(id).title = LOCKED; }

connect();
load();
loadState();
