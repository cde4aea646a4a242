// trakt-doctor's live view: a list of exchanges fed by server-sent events,
// filters, and a detail pane that puts the diagnosis first. No framework,
// no network access beyond this proxy.
"use strict";

const token = document.querySelector('meta[name="trakt-doctor-token"]').content;
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
    else if (k.startsWith("data-")) node.setAttribute(k, v);
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
  const summary = `${title} (${body.size} bytes${body.truncated ? ", truncated" : ""})`;
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
  detail.replaceChildren(...parts);
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

connect();
load();
loadState();
