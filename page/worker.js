// The page's worker: loads the checks (the wasm build of trakt-doctor-core)
// and does all the reading, linting and reporting off the main thread, so
// a large file keeps the page responsive. It keeps the linted, redacted
// exchanges and hands the page summaries for the list, one exchange for
// the detail, and the Markdown report on request. Nothing leaves this
// browser: the only fetch is of the wasm, from this page's own origin.
import init, { lint, report, version } from "./pkg/trakt_doctor_wasm.js";

// The fingerprint key of this page load: fingerprints (sha256:…) match
// within one file's view, and mean nothing to anyone else.
const key = crypto.getRandomValues(new Uint8Array(32));
const ready = init({ module_or_path: new URL("./pkg/trakt_doctor_wasm_bg.wasm", import.meta.url) });
// How many exchanges per batch: the list and the progress grow as they come.
const EVERY = 200;

let bytes = null;     // the file, kept for the report
let records = [];     // linted, redacted exchanges, in file order

function summary(ex, index) {
  let host = "", path = ex.request.url;
  try { const u = new URL(ex.request.url); host = u.host; path = u.pathname + u.search; } catch { /* shown as written */ }
  const count = (s) => ex.findings.filter((f) => f.severity === s && !f.fixed).length;
  return {
    index, id: ex.id, method: ex.request.method, host, path,
    status: ex.response ? ex.response.status : null, error: ex.error || null,
    started_at: ex.started_at, duration_ms: ex.duration_ms, replay_of: ex.replay_of,
    errors: count("error"), warnings: count("warning"), infos: count("info"),
    fixed: ex.findings.some((f) => f.fixed),
    summary: ex.diagnosis ? ex.diagnosis.summary : "",
    rules: ex.findings.map((f) => f.rule),
  };
}

async function open(file) {
  await ready;
  records = [];
  bytes = new Uint8Array(await file.arrayBuffer());
  const started = performance.now();
  const total = lint(bytes, key, EVERY, {
    batch(json, done) {
      const batch = JSON.parse(json);
      const first = records.length;
      records.push(...batch);
      postMessage({ type: "batch", summaries: batch.map((ex, i) => summary(ex, first + i)), done, size: bytes.length });
    },
  });
  postMessage({ type: "done", total, name: file.name, size: bytes.length, ms: performance.now() - started });
}

async function handle(message) {
  switch (message.type) {
    case "version": await ready; return { type: "version", version: version() };
    case "open": await open(message.file); return null;
    case "detail": return { type: "detail", index: message.index, exchange: records[message.index] };
    case "report": await ready; return { type: "report", ids: message.ids, markdown: report(bytes, key, BigUint64Array.from(message.ids.map(BigInt))) };
    // For the tests: what `trakt-doctor lint --format json` prints of each exchange.
    case "results": return { type: "results", results: records.map((ex) => ({
      id: ex.id, method: ex.request.method, url: ex.request.url, status: ex.response ? ex.response.status : null,
      error: ex.error ?? null, findings: ex.findings, diagnosis: ex.diagnosis ?? null })) };
    default: throw new Error(`unknown message ${message.type}`);
  }
}

onmessage = async (event) => {
  try {
    const answer = await handle(event.data);
    if (answer) postMessage(answer);
  } catch (e) {
    // A JsError from the checks carries the reader's message (the line, the entry).
    postMessage({ type: "error", about: event.data.type, message: e && e.message ? e.message : String(e) });
  }
};
