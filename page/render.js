// How trakt-doctor shows an exchange, shared by the proxy's live web view
// (src/web/assets/app.js, served as /render.js) and the browser page
// (page/app.js): the list's status colours, the detail pane's request with
// each finding marked where it points, the diagnosis, the findings. A
// classic script: its functions are globals of the page that loads it.
"use strict";
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

// Whether summary `s` mentions `text` (the search box): its id, method,
// host, path, status, error, diagnosis and rule ids.
function mentions(s, text) {
  if (!text) return true;
  const hay = [`#${s.id}`, s.method, s.host, s.path, s.status, s.error, s.summary, ...(s.rules || [])].join(" ").toLowerCase();
  return hay.includes(text);
}

// One row of the list, for summary `s`; `isSelected` if it is the one
// shown, `onClick` shows it. The request cell shrinks with an ellipsis
// (its full text in the title); the badges wrap inside their column.
function listRow(s, isSelected, onClick) {
  const time = (s.started_at || "").slice(11, 19);
  const badges = el("td", { class: "badges" });
  if (s.errors) badges.append(el("span", { class: "badge error", title: `${s.errors} error${s.errors > 1 ? "s" : ""}`, text: s.errors }));
  if (s.warnings) badges.append(el("span", { class: "badge warning", title: `${s.warnings} warning${s.warnings > 1 ? "s" : ""}`, text: s.warnings }));
  if (s.infos) badges.append(el("span", { class: "badge info", title: "info", text: s.infos }));
  if (s.fixed) badges.append(el("span", { class: "badge fixed", title: "auto-fixed", text: "fixed" }));
  if (s.replay_of != null) badges.append(el("span", { class: "badge resend", title: `a resend of #${s.replay_of}`, text: `↻ #${s.replay_of}` }));
  const request = s.host + s.path;
  const ms = (s.duration_ms || 0).toFixed(1);
  const tr = el("tr", { class: "row" + (isSelected ? " selected" : ""), "data-id": s.id, title: s.summary || "" },
    el("td", { class: "id", text: `#${s.id}` }),
    el("td", { class: "time", text: time }),
    el("td", { class: "method", text: s.method, title: s.method }),
    el("td", { class: "req", text: request, title: request }),
    el("td", { class: "status " + statusClass(s), text: s.status == null ? "failed" : s.status }),
    el("td", { class: "ms", text: ms, title: `${ms} ms` }),
    badges);
  tr.addEventListener("click", onClick);
  return tr;
}

// The host filter's options: "all" and every host in `summaries`, the
// choice kept; rebuilt only when a host is new.
function hostOptions(select, summaries) {
  const hosts = [...new Set(summaries.map((s) => s.host))].sort();
  if (select.options.length - 1 === hosts.length) return;
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: "all" }), ...hosts.map((h) => el("option", { value: h, text: h })));
  select.value = current;
}

function statusClass(s) {
  if (s.status == null) return "sfail";
  return "s" + String(s.status)[0];
}

// What a finding's location names (src/report.rs Location), from its text.
function locationKind(text) {
  if (text === "/") return "request";
  if (text.startsWith("/")) return "body";
  if (text === "query" || text.startsWith("query ")) return "query";
  if (text.startsWith("path ")) return "path";
  if (text === "host") return "host";
  if (text.startsWith("response ")) return "response";
  return "header";
}

// Marks `node` as the place of finding `f`: highlighted, the rule and
// message on hover; `marks` remembers it for the finding's link.
function markNode(node, f, marks) {
  node.classList.add("marked", "m-" + f.severity);
  const rules = node.dataset.rules ? node.dataset.rules.split(" ") : [];
  if (!rules.includes(f.rule)) rules.push(f.rule);
  node.dataset.rules = rules.join(" ");
  node.title = (node.title ? node.title + "\n" : "") + `${f.rule}: ${f.message}`;
  if (!marks.has(f)) marks.set(f, []);
  marks.get(f).push(node);
}

// The small label beside a marked place: the rule, its message on hover.
function tag(f, extra) {
  return el("span", { class: `tag ${f.severity}`, title: f.message, text: `◀ ${f.rule}${extra || ""}` });
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

// Pretty-prints `value` into `parent` as JSON.stringify(value, null, 2)
// would, each member in a span: `at` maps its JSON pointer to the span
// and `after` to the node a label goes before (the line's end).
function jsonInto(parent, value, pointer, indent, at) {
  if (value === null || typeof value !== "object") { parent.append(JSON.stringify(value)); return; }
  const list = Array.isArray(value);
  const entries = list ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  if (!entries.length) { parent.append(list ? "[]" : "{}"); return; }
  parent.append(list ? "[\n" : "{\n");
  entries.forEach(([key, v], i) => {
    const p = pointer + "/" + key.replace(/~/g, "~0").replace(/\//g, "~1");
    const member = el("span", { class: "member" });
    if (!list) member.append(el("span", { class: "key", text: JSON.stringify(key) }), ": ");
    jsonInto(member, v, p, indent + 2, at);
    if (i < entries.length - 1) member.append(",");
    const end = document.createTextNode("\n");
    parent.append(" ".repeat(indent + 2), member, end);
    at.set(p, member);
  });
  parent.append(" ".repeat(indent) + (list ? "]" : "}"));
}

// The character index in `line` of serde_json's column (a byte count).
function charAt(line, column) {
  const encoder = new TextEncoder();
  let bytes = 0, i = 0;
  for (const ch of line) {
    if (bytes >= column - 1) return i;
    bytes += encoder.encode(ch).length;
    i += ch.length;
  }
  return line.length;
}

// The text of a body that is not JSON, with a caret under the place the
// parser stopped (`line`, `column`), labelled with what it said. Lines are
// not wrapped (the caret must stay under its character): the block scrolls
// sideways to the place once shown.
function caretInto(pre, text, f, line, column, what, marks) {
  const lines = text.split("\n");
  const n = Math.max(0, Math.min(line, lines.length) - 1);
  const row = lines[n];
  const i = charAt(row, column);
  const here = el("span", { class: "here", text: row.slice(i, i + 1) || " " });
  // Tabs kept, so the caret lines up under them as well.
  const caret = el("span", { class: `caret ${f.severity}`, title: f.message, text: row.slice(0, i).replace(/[^\t]/g, " ") + "^ " + what });
  const before = lines.slice(0, n).join("\n");
  const after = lines.slice(n + 1).join("\n");
  pre.classList.add("unwrapped");
  pre.append(before ? before + "\n" : "", row.slice(0, i), here, row.slice(i + 1), "\n", caret, after ? "\n" + after : "");
  markNode(here, f, marks);
  requestAnimationFrame(() => { pre.scrollLeft = Math.max(0, here.offsetLeft - pre.clientWidth / 2); });
}

// A body, its findings marked: `pointed` are [finding, JSON pointer] pairs
// into it, `parse` a finding that says where the JSON broke.
function bodyBlock(title, body, pointed, parse, marks, id) {
  if (!body) return el("p", { class: "empty", text: `${title}: empty` });
  const text = body.text != null ? body.text : `(binary, ${body.size} bytes, base64)\n${body.base64}`;
  // A compressed body is shown decoded; the summary says how it travelled.
  const coded = body.encoding ? `, ${body.encoding}: ${body.wire_size} bytes on the wire` : "";
  const problem = body.decode_error ? ` — ${body.decode_error.message}` : "";
  const summary = `${title} (${body.size} bytes${coded}${body.truncated ? ", truncated" : ""})${problem}`;
  const pre = el("pre", { id, class: "body" });
  let json, parsed = false;
  if (body.text != null && (pointed.length || parse)) {
    try { json = JSON.parse(body.text.replace(/^\uFEFF/, "")); parsed = true; } catch { /* shown as it is */ }
  }
  const where = parse && /\bline (\d+),? column (\d+)/.exec(parse.message);
  if (parsed && pointed.length) {
    const at = new Map();
    jsonInto(pre, json, "", 0, at);
    for (const [f, pointer] of pointed) {
      // A missing member is marked on the nearest one that is there.
      let p = pointer;
      while (p && !at.has(p)) p = p.slice(0, p.lastIndexOf("/"));
      const node = at.get(p);
      if (!node) continue;
      markNode(node, f, marks);
      node.after(tag(f, p === pointer ? "" : ` (${pointer.slice(p.length + 1)} missing here)`));
    }
  } else if (!parsed && where && body.text != null) {
    const what = parse.message.replace(/^the body is not JSON: /, "").replace(/ at line \d+,? column \d+.*$/, "");
    caretInto(pre, body.text.replace(/^\uFEFF/, ""), parse, +where[1], +where[2], what, marks);
  } else {
    pre.textContent = pretty(text);
  }
  return el("details", { open: true }, el("summary", { text: summary }), pre);
}

// The headers, the finding's ones marked (`pointed`: [finding, name]
// pairs); a header a finding misses is shown where it would be.
function headersTable(headers, pointed, marks, id) {
  const table = el("table", { class: "headers", id });
  const rows = new Map();
  for (const [name, value] of Object.entries(headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      const tr = el("tr", { "data-header": name }, el("td", { text: name }), el("td", { text: v }));
      table.append(tr);
      if (!rows.has(name.toLowerCase())) rows.set(name.toLowerCase(), []);
      rows.get(name.toLowerCase()).push(tr);
    }
  }
  for (const [f, name] of pointed) {
    let found = rows.get(name.toLowerCase());
    if (!found) {
      const tr = el("tr", { class: "missing", "data-header": name }, el("td", { text: name }), el("td", { class: "absent", text: "(not sent)" }));
      table.append(tr);
      found = [tr];
      rows.set(name.toLowerCase(), found);
    }
    for (const tr of found) { markNode(tr, f, marks); tr.lastChild.append(tag(f)); }
  }
  return table;
}

// The request's URL, its host, path and query parameters each in a span
// that a finding about them marks.
function urlLine(url, findings, marks) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(url);
  const line = el("p", { class: "url", id: "request-url" });
  if (!m) { line.textContent = url; return line; }
  const host = el("span", { class: "host", text: m[2] });
  const path = el("span", { class: "path", text: m[3] });
  line.append(m[1], host, path);
  const params = [];
  if (m[4]) {
    m[4].slice(1).split("&").forEach((pair, i) => {
      let name = pair.split("=")[0];
      try { name = decodeURIComponent(name.replace(/\+/g, " ")); } catch { /* as written */ }
      const span = el("span", { class: "param", "data-name": name, text: pair });
      params.push(span);
      line.append(i ? "&" : "?", span);
    });
  }
  if (m[5]) line.append(m[5]);
  const labels = [];
  for (const f of findings) {
    const kind = locationKind(f.location);
    let nodes = [];
    if (kind === "host") nodes = [host];
    else if (kind === "path") nodes = [path];
    else if (kind === "query") {
      const name = f.location.slice("query".length).trim();
      nodes = name ? params.filter((p) => p.dataset.name === name) : params.length ? params : [path];
      if (name && !nodes.length) {
        const absent = el("span", { class: "param missing", "data-name": name, text: `${name}=…` });
        line.append(params.length ? "&" : "?", absent);
        params.push(absent);
        nodes = [absent];
      }
    } else continue;
    for (const node of nodes) markNode(node, f, marks);
    labels.push(" ", tag(f));
  }
  line.append(...labels);
  return line;
}

// Each finding's place in the exchange, by where it points.
function places(findings) {
  const out = { url: [], headers: [], body: [], parse: null, responseHeaders: [], responseBody: [] };
  for (const f of findings) {
    const kind = locationKind(f.location);
    if (kind === "header") out.headers.push([f, f.location]);
    else if (kind === "body") out.body.push([f, f.location]);
    else if (kind === "request" && /\bline \d+,? column \d+/.test(f.message) && !out.parse) out.parse = f;
    else if (kind === "host" || kind === "path" || kind === "query") out.url.push(f);
    else if (kind === "response") {
      const rest = f.location.slice("response ".length);
      if (rest.startsWith("/")) out.responseBody.push([f, rest]);
      else if (rest !== "body") out.responseHeaders.push([f, rest]);
    }
  }
  return out;
}

// The diagnosis, and where a repair settles it, the repair as the action:
// "Resend with fixes" under it, naming what it changes.
const offersFix = (d, repairs) => repairs.length > 0 && d.remedies.some((r) => /Resend with fixes/.test(r));

function diagnosisBlock(d, repairs, fixButton) {
  const offered = offersFix(d, repairs);
  const remedies = [];
  for (const r of d.remedies) {
    if (offered && /Resend with fixes/.test(r)) {
      // The button says it; what is left is the client's part, if any.
      const rest = /; (fix .+ in the client that sent the request)$/.exec(r);
      if (rest) remedies.push(rest[1]);
    } else remedies.push(r);
  }
  return el("section", { id: "diagnosis", class: "diagnosis" },
    el("h2", { text: d.summary }),
    d.causes.length ? el("ul", { class: "causes" }, ...d.causes.map((c) => el("li", { text: c }))) : null,
    remedies.length || offered ? el("p", { class: "todo" }, el("b", { text: "What to do:" })) : null,
    offered ? el("div", { class: "remedy", id: "remedy" }, fixButton,
      el("span", { class: "repairs" }, "repairs ", ...repairs.flatMap((x, i) => [i ? "; " : "",
        el("code", { text: x.rule }), " (", el("del", { text: x.before }), " → ", el("ins", { text: x.after }), ")"])),
      el("p", { class: "hint", text: "Or turn Auto-fix on (--fix) so the client's next requests go out repaired." })) : null,
    remedies.length ? el("ul", { class: "remedies" }, ...remedies.map((r) => el("li", { text: r }))) : null);
}

// One finding: its rule, what it says (unless the diagnosis said it
// already) and a link to its place in the request.
// `rules` is the rules page's address (a link per rule), or null: the rule as text.
function findingEntry(f, said, repair, marks, body, rules = "/rules") {
  const nodes = marks.get(f) || [];
  const value = locationKind(f.location) === "body" && body ? valueAt(body, f.location) : undefined;
  const go = (e) => {
    e.preventDefault();
    const node = nodes[0];
    node.scrollIntoView({ block: "center" });
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
  };
  return el("div", { class: "finding" + (said ? " said" : ""), "data-rule": f.rule },
    el("span", { class: `sev ${f.severity}`, text: f.severity }),
    rules == null ? el("code", { class: "rule", text: f.rule }) : el("a", { href: `${rules}#${f.rule}`, text: f.rule, target: "_blank" }),
    f.fixed ? el("span", { class: "badge fixed", text: "fixed" }) : null,
    repair ? el("span", { class: "badge repairable", text: "repairable", title: `Resend with fixes repairs it: ${repair.before} → ${repair.after}` }) : null,
    f.contradicted ? el("span", { class: "badge contradicted", text: "yet Trakt accepted it", title: "Trakt answered with success although this finding predicted a rejection" }) : null,
    said ? null : el("div", { class: "message", text: f.message }),
    el(said ? "span" : "div", { class: "loc" }, said ? " at " : "at ",
      nodes.length ? el("a", { href: "#", class: "goto", text: f.location, title: "Show it in the request", onclick: go }) : f.location,
      value !== undefined ? " = " + value : ""),
    // Said once: the diagnosis above quotes this finding's message.
    said ? el("span", { class: "said-note", title: f.message, text: " — as the diagnosis says" }) : null);
}

// The findings as a list; a message `said` already quotes (the summary
// just above) is not said again.
function findingList(findings, said = "") {
  if (!findings || !findings.length) return el("p", { class: "empty", text: "No findings." });
  return el("ul", { class: "findings" }, ...findings.map((f) =>
    el("li", { class: "finding", "data-rule": f.rule, title: f.message },
      el("span", { class: `sev ${f.severity}`, text: f.severity }), el("code", { text: f.rule }),
      f.fixed ? el("span", { class: "badge fixed", text: "fixed" }) : null, said.includes(f.message) ? null : " " + f.message)));
}

// ---- One exchange in the detail pane, in the order the web view and the
// page show it: the head (title, outcome), then what the caller puts there
// (diagnosis, actions), the findings and rewrites, the request and answer.

function exchangeHead(ex) {
  return [
    el("h2", { class: "exchange", id: "exchange-title" }, el("span", { class: "id", text: `#${ex.id}` }), ` ${ex.request.method} `, el("span", { class: "target", text: ex.request.url })),
    el("p", { class: "outcome" }, ex.response ? `→ ${ex.response.status} in ${ex.duration_ms.toFixed(1)} ms` : `→ failed: ${ex.error}`,
      ex.replay_of != null ? el("span", { class: "replay-of", text: ` · a resend of #${ex.replay_of}` }) : null),
  ];
}

// The request and the answer, each finding marked where it points;
// `marks` learns the places, for the findings' links (made after).
function messageBlocks(ex, marks) {
  const at = places(ex.findings);
  const request = [
    el("h3", { text: "Request" }),
    urlLine(ex.request.url, at.url, marks),
    headersTable(ex.request.headers, at.headers, marks, "request-headers"),
    bodyBlock("Request body", ex.request.body, at.body, at.parse, marks, "request-body"),
  ];
  const answer = ex.response ? [
    el("h3", { text: "Response" }),
    headersTable(ex.response.headers, at.responseHeaders, marks, "response-headers"),
    bodyBlock("Response body", ex.response.body, at.responseBody, null, marks, "response-body"),
  ] : [];
  return [...request, ...answer];
}

// The findings (`repairs`: what auto-fix would change, for their badges;
// `said`: the diagnosis's text, not repeated) and auto-fix's rewrites.
function findingBlocks(ex, repairs, said, marks, rules) {
  const parts = [];
  const repairOf = (f) => f.fixed ? undefined : repairs.find((x) => x.rule === f.rule && x.location === f.location);
  if (ex.findings.length) {
    parts.push(el("h3", { text: "Findings" }));
    const body = ex.request.body && ex.request.body.text;
    for (const f of ex.findings) parts.push(findingEntry(f, said.includes(f.message), repairOf(f), marks, body, rules));
  }
  if (ex.fixes.length) {
    parts.push(el("h3", { text: "Auto-fix rewrites" }));
    for (const x of ex.fixes) {
      parts.push(el("div", { class: "fix", "data-rule": x.rule }, el("b", { text: x.rule + ": " }), el("del", { text: x.before }), " → ", el("ins", { text: x.after })));
    }
  }
  return parts;
}
