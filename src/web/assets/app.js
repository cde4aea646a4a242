// trakt-doctor's live view: a list of exchanges fed by server-sent events,
// filters, and a detail pane that puts the diagnosis first. No framework,
// no network access beyond this proxy.
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

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
};

function statusClass(s) {
  if (s.status == null) return "sfail";
  return "s" + String(s.status)[0];
}

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
  const text = $("f-text").value.trim().toLowerCase();
  if (text) {
    const hay = [s.method, s.host, s.path, s.status, s.error, s.summary, ...(s.rules || [])].join(" ").toLowerCase();
    if (!hay.includes(text)) return false;
  }
  return true;
}

function row(s) {
  const time = (s.started_at || "").slice(11, 19);
  const badges = el("td", {});
  if (s.errors) badges.append(el("span", { class: "badge error", title: "errors", text: s.errors }));
  if (s.warnings) badges.append(el("span", { class: "badge warning", title: "warnings", text: s.warnings }));
  if (s.infos) badges.append(el("span", { class: "badge info", title: "info", text: s.infos }));
  if (s.fixed) badges.append(el("span", { class: "badge fixed", title: "auto-fixed", text: "fixed" }));
  if (s.replay_of != null) badges.append(el("span", { class: "badge resend", title: `a resend of #${s.replay_of}`, text: `↻ #${s.replay_of}` }));
  const tr = el("tr", { class: "row" + (s.id === selected ? " selected" : ""), "data-id": s.id, title: s.summary || "" },
    el("td", { text: time }),
    el("td", { text: s.method }),
    el("td", { class: "req", text: s.host + s.path }),
    el("td", { class: statusClass(s), text: s.status == null ? "failed" : s.status }),
    el("td", { text: s.duration_ms.toFixed(1) }),
    badges);
  tr.addEventListener("click", () => show(s.id));
  return tr;
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
  const hosts = [...new Set(all.map((s) => s.host))].sort();
  const select = $("f-host");
  const current = select.value;
  if (select.options.length - 1 !== hosts.length) {
    select.replaceChildren(el("option", { value: "", text: "all" }), ...hosts.map((h) => el("option", { value: h, text: h })));
    select.value = current;
  }
}

function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text.replace(/^\uFEFF/, "")), null, 2); } catch { return text; }
}

function valueAt(text, pointer) {
  try {
    let v = JSON.parse(text.replace(/^\uFEFF/, ""));
    for (const part of pointer.split("/").slice(1)) v = v[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return v === undefined ? undefined : JSON.stringify(v);
  } catch { return undefined; }
}

function headersTable(headers, marked) {
  const table = el("table", { class: "headers" });
  for (const [name, value] of Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      table.append(el("tr", { class: marked.has(name) ? "marked" : "", "data-header": name }, el("td", { text: name }), el("td", { text: v })));
    }
  }
  return table;
}

function bodyBlock(title, body) {
  if (!body) return el("p", { class: "empty", text: `${title}: empty` });
  const text = body.text != null ? body.text : `(binary, ${body.size} bytes, base64)\n${body.base64}`;
  // A compressed body is shown decoded; the summary says how it travelled.
  const coded = body.encoding ? `, ${body.encoding}: ${body.wire_size} bytes on the wire` : "";
  const problem = body.decode_error ? ` — ${body.decode_error.message}` : "";
  const summary = `${title} (${body.size} bytes${coded}${body.truncated ? ", truncated" : ""})${problem}`;
  return el("details", { open: true }, el("summary", { text: summary }), el("pre", { text: pretty(text) }));
}

async function show(id) {
  selected = id;
  schedule();
  const detail = $("detail");
  const response = await fetch(`/api/exchanges/${id}`);
  if (!response.ok) { detail.replaceChildren(el("p", { class: "empty", text: "This exchange is no longer stored." })); return; }
  const ex = await response.json();
  const parts = [];
  if (ex.diagnosis) {
    const d = ex.diagnosis;
    parts.push(el("section", { id: "diagnosis", class: "diagnosis" },
      el("h2", { text: d.summary }),
      d.causes.length ? el("ul", {}, ...d.causes.map((c) => el("li", { text: c }))) : null,
      d.remedies.length ? el("p", {}, el("b", { text: "What to do: " })) : null,
      d.remedies.length ? el("ul", { class: "remedies" }, ...d.remedies.map((r) => el("li", { text: r }))) : null));
  }
  parts.push(el("h3", { text: `${ex.request.method} ${ex.request.url}` }));
  parts.push(el("p", { text: ex.response ? `→ ${ex.response.status} in ${ex.duration_ms.toFixed(1)} ms` : `→ failed: ${ex.error}` }));
  const reqText = ex.request.body && ex.request.body.text;
  if (ex.findings.length) {
    parts.push(el("h3", { text: "Findings" }));
    for (const f of ex.findings) {
      const at = f.location.startsWith("/") && reqText ? valueAt(reqText, f.location) : undefined;
      parts.push(el("div", { class: "finding", "data-rule": f.rule },
        el("span", { class: `sev ${f.severity}`, text: f.severity }),
        el("a", { href: `/rules#${f.rule}`, text: f.rule, target: "_blank" }),
        f.fixed ? el("span", { class: "badge fixed", text: "fixed" }) : null,
        f.contradicted ? el("span", { class: "badge contradicted", text: "yet Trakt accepted it", title: "Trakt answered with success although this finding predicted a rejection" }) : null,
        el("div", { text: f.message }),
        el("div", { class: "loc", text: `at ${f.location}${at !== undefined ? " = " + at : ""}` })));
    }
  }
  if (ex.fixes.length) {
    parts.push(el("h3", { text: "Auto-fix rewrites" }));
    for (const x of ex.fixes) {
      parts.push(el("div", { class: "fix", "data-rule": x.rule }, el("b", { text: x.rule + ": " }), el("del", { text: x.before }), " → ", el("ins", { text: x.after })));
    }
  }
  const marked = new Set(ex.findings.map((f) => f.location.toLowerCase()));
  parts.push(el("h3", { text: "Request headers" }), headersTable(ex.request.headers, marked), bodyBlock("Request body", ex.request.body));
  if (ex.response) {
    parts.push(el("h3", { text: "Response headers" }), headersTable(ex.response.headers, new Set()), bodyBlock("Response body", ex.response.body));
  }
  if (ex.replay_of != null) parts.unshift(el("p", { class: "replay-of", text: `A resend of #${ex.replay_of}` }));
  detail.replaceChildren(actionBar(ex), el("div", { id: "panel" }), el("div", { id: "compare" }), ...parts);
}

// ---- Acting on an exchange: resend (as captured, with fixes, edited), copy as curl, report.

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function actionBar(ex) {
  const curlMenu = el("div", { id: "curl-menu", class: "menu", hidden: true },
    el("button", { type: "button", id: "curl-posix", text: "POSIX shell (bash, zsh)", onclick: () => copyCurl(ex, "posix") }),
    el("button", { type: "button", id: "curl-powershell", text: "PowerShell", onclick: () => copyCurl(ex, "powershell") }),
    el("label", {}, el("input", { type: "checkbox", id: "curl-fixed" }), " with the repairs"),
    el("label", { title: "Put the captured secrets themselves in the command instead of environment variables" },
      el("input", { type: "checkbox", id: "curl-reveal" }), " real secrets"));
  const button = (props) => el("button", locked ? { ...props, disabled: true, title: LOCKED } : props);
  return el("div", { class: "actions", id: "actions" },
    button({ type: "button", id: "act-resend", text: "Resend", title: "Send the request again as it was captured", onclick: () => prepare(ex, "captured") }),
    button({ type: "button", id: "act-resend-fixed", text: "Resend with fixes", title: "Send it with the repairs auto-fix would make", onclick: () => prepare(ex, "fixed") }),
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

function findingList(findings) {
  if (!findings || !findings.length) return el("p", { class: "empty", text: "No findings." });
  return el("ul", { class: "findings" }, ...findings.map((f) =>
    el("li", { class: "finding", "data-rule": f.rule },
      el("span", { class: `sev ${f.severity}`, text: f.severity }), el("code", { text: f.rule }),
      f.fixed ? el("span", { class: "badge fixed", text: "fixed" }) : null, " ", f.message)));
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
    findingList(ex.findings.filter((f) => !f.fixed)));
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
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "x-trakt-doctor-token": token, "content-type": "application/json" }, body: JSON.stringify(body || {}) });
  if (!response.ok) alert(await response.text());
}

function connect() {
  const source = new EventSource("/api/stream");
  source.onopen = () => { $("live").textContent = "live"; $("live").classList.add("ok"); };
  source.onmessage = (event) => { all.push(JSON.parse(event.data)); if (all.length > 10000) all.shift(); schedule(); };
  source.addEventListener("lagged", load);
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
