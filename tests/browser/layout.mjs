// The web view with real traffic, in headless Chromium: a client that
// refuses the certificate (the banner), long request paths and several
// findings per row at 1024 and 1400 px (every column inside the list, the
// request cut with an ellipsis), exchange ids, and a detail pane that
// marks each finding in the request and offers the repair as the remedy.
// Called by tests/browser.rs with one JSON argument:
// { page, untrusted: [[args...]], agent, host, curls: [[args...]...], fixed: [[args...]...],
//   count, longPath, longPathRow, scrobble, resend, param, broken, stremio, pointers, caretAt, screenshot, shots }
// Prints what it checked; exits non-zero with a reason on the first failure.
import { fail, openWebView, runCurls } from "./webview.mjs";

const cfg = JSON.parse(process.argv[2]);
// A picture of the detail pane scrolled to `selector`, for a person to look at.
const shot = async (page, selector, name) => {
  if (!cfg.shots) return;
  await page.$eval(selector, (node) => node.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: `${cfg.shots}/${name}.png` });
};
const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

const { browser, page } = await openWebView(cfg.page, { viewport: { width: 1400, height: 900 } });
try {
  // 1. A client that does not trust the CA: its requests never reach the
  // list, so a banner says who refused, for which host, and the fix.
  runCurls(cfg.untrusted);
  await page.waitForSelector("#untrusted-ca", { timeout: 10000 });
  const banner = await page.textContent("#untrusted-ca");
  for (const words of [cfg.agent, `certificate for ${cfg.host}`, "trakt-doctor ca trust", "--cacert", "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "security.enterprise_roots.enabled"]) {
    if (!banner.includes(words)) fail(`the banner lacks "${words}": ${banner}`);
  }
  console.log("untrusted CA banner: " + banner.trim().slice(0, 90) + "…");

  // 2. Traffic: a hundred quick ones (three-digit ids), then the real ones.
  runCurls(cfg.curls, 60);
  await page.click("#fix-toggle");
  await page.waitForFunction(() => document.querySelector("#fix-toggle").textContent === "Auto-fix: on");
  runCurls(cfg.fixed);
  await page.click("#fix-toggle");
  await page.waitForFunction(() => document.querySelector("#fix-toggle").textContent === "Auto-fix: off");
  const expected = cfg.count;
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length >= n, expected, { timeout: 15000 });
  // A resend, for the ↻ badge.
  await page.click(`tr.row:has(td.req:text-is("${cfg.resend}"))`);
  await page.waitForSelector("#actions");
  await page.click("#act-resend");
  await page.waitForSelector("#confirm-send");
  await page.click("#confirm-send");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length > n, expected, { timeout: 5000 });
  const busiest = await page.$$eval("tr.row", (rows) => Math.max(...rows.map((r) => r.querySelectorAll(".badge").length)));
  if (busiest < 4) {
    const rows = await page.evaluate(async () => (await (await fetch("/api/exchanges")).json()).filter((s) => !s.path.includes("/history/")));
    fail(`the busiest row has ${busiest} badges; the test wants rows with several findings: ${JSON.stringify(rows, null, 1)}`);
  }
  console.log(`${await page.$$eval("tr.row", (r) => r.length)} rows, up to ${busiest} badges in one`);

  // 3. Every column inside the list at 1024 and 1400 px.
  for (const width of [1400, 1024]) {
    await page.setViewportSize({ width, height: 768 });
    await settle(page);
    const problems = await page.evaluate((longPath) => {
      const out = [];
      const list = document.querySelector("section.list");
      const box = list.getBoundingClientRect();
      const right = Math.min(box.left + list.clientWidth, window.innerWidth);
      if (list.scrollWidth > list.clientWidth + 1) out.push(`the list scrolls sideways (${list.scrollWidth} > ${list.clientWidth})`);
      const inside = (r) => r.left >= box.left - 0.5 && r.right <= right + 0.5;
      for (const th of document.querySelectorAll("#list thead th")) {
        const r = th.getBoundingClientRect();
        if (!inside(r)) out.push(`header ${th.textContent} at ${r.left}-${r.right}, the list ends at ${right}`);
        if (th.scrollWidth > th.clientWidth) out.push(`header "${th.textContent}" is cut`);
      }
      let rows = 0, cutRequests = 0;
      for (const tr of document.querySelectorAll("tr.row")) {
        rows++;
        for (const td of tr.cells) {
          const r = td.getBoundingClientRect();
          if (!inside(r)) out.push(`#${tr.dataset.id} ${td.className} at ${r.left}-${r.right}, the list ends at ${right}`);
          if (!td.classList.contains("req") && !td.classList.contains("method") && td.scrollWidth > td.clientWidth) out.push(`#${tr.dataset.id} ${td.className} "${td.textContent}" is cut`);
        }
        const req = tr.querySelector("td.req");
        if (req.title !== req.textContent) out.push(`#${tr.dataset.id}: the request's title is "${req.title}"`);
        if (req.textContent.includes(longPath)) {
          cutRequests++;
          if (req.scrollWidth <= req.clientWidth) out.push(`#${tr.dataset.id}: the long path is not cut at ${window.innerWidth} px`);
          if (getComputedStyle(req).textOverflow !== "ellipsis") out.push("the request does not end in an ellipsis");
        }
        const cell = tr.querySelector("td.badges").getBoundingClientRect();
        for (const b of tr.querySelectorAll(".badge")) {
          const r = b.getBoundingClientRect();
          if (r.left < cell.left - 0.5 || r.right > cell.right + 0.5 || r.top < cell.top - 0.5 || r.bottom > cell.bottom + 0.5) out.push(`#${tr.dataset.id}: badge "${b.textContent}" is cut`);
        }
        const id = tr.querySelector("td.id").textContent;
        if (id !== `#${tr.dataset.id}`) out.push(`row ${tr.dataset.id} shows id ${id}`);
      }
      if (!cutRequests) out.push("no row with the long path");
      return { out, rows };
    }, cfg.longPath);
    if (problems.out.length) fail(`at ${width} px:\n  ` + problems.out.slice(0, 12).join("\n  "));
    console.log(`at ${width} px: every column of ${problems.rows} rows inside the list; the long path ends in an ellipsis`);
  }

  // 4. The detail pane: the id in the heading, each finding marked in the
  // request, the repair as the remedy, each sentence said once.
  await page.click(`tr.row:has(td.req:text-is("${cfg.longPathRow}"))`);
  await page.waitForSelector("#request-url");
  const title = await page.textContent("#exchange-title");
  const listId = await page.getAttribute(`tr.row:has(td.req:text-is("${cfg.longPathRow}"))`, "data-id");
  if (!title.startsWith(`#${listId} GET https://`)) fail("the detail's heading is " + title);
  if (!(await page.$('#request-headers tr.marked.missing[data-header="trakt-api-version"]'))) fail("the missing trakt-api-version is not marked");
  if (!(await page.$('#request-headers tr.marked[data-header="user-agent"][data-rules~="header.user-agent.generic"]'))) fail("the User-Agent is not marked");
  const remedy = await page.textContent("#remedy");
  if (!(await page.$("#remedy #act-resend-fixed")) || !remedy.includes("header.api-version.missing")) fail("the remedy is " + remedy);
  if (await page.$("#actions #act-resend-fixed")) fail("Resend with fixes is offered twice");
  console.log(`${title.trim().slice(0, 50)}…: the missing header and the User-Agent marked; the remedy: ${remedy.trim().slice(0, 70)}…`);
  await page.setViewportSize({ width: 1024, height: 768 });
  await settle(page);
  await page.screenshot({ path: cfg.screenshot });

  // The scrobble: each JSON pointer marked in the pretty-printed body.
  await page.click(`tr.row:has(td.req:text-is("${cfg.scrobble}"))`);
  await page.waitForSelector("#request-body");
  const findings = await page.$$eval(".finding", (nodes) => nodes.map((n) => ({ rule: n.dataset.rule, said: n.classList.contains("said") })));
  const marked = await page.$$eval("#request-body .marked", (nodes) => nodes.map((n) => ({ rules: n.dataset.rules, text: n.textContent, title: n.title })));
  for (const pointer of cfg.pointers) {
    if (!marked.some((m) => m.rules.includes(pointer.rule) && m.text.startsWith(pointer.key) && m.title.includes(pointer.rule))) fail(`${pointer.rule} is not marked at ${pointer.key}: ${JSON.stringify(marked)}`);
  }
  const detail = await page.innerText("#detail");
  const summary = await page.textContent("#diagnosis h2");
  const messages = await page.evaluate(async (id) => (await (await fetch(`/api/exchanges/${id}`)).json()).findings.map((f) => f.message),
    await page.getAttribute("tr.row.selected", "data-id"));
  for (const m of messages) {
    const times = detail.split(m).length - 1;
    if (times !== 1) fail(`"${m}" is said ${times} times in the detail pane:\n${detail}`);
  }
  if (!findings.some((f) => f.said)) fail("no finding defers to the diagnosis: " + summary);
  await page.click(`.finding[data-rule="${cfg.pointers[0].rule}"] a.goto`);
  await page.waitForSelector(`#request-body .marked.flash[data-rules~="${cfg.pointers[0].rule}"]`);
  await shot(page, "#exchange-title", "web-layout-scrobble");
  await shot(page, "#request-url", "web-layout-scrobble-request");
  await shot(page, "#request-body", "web-layout-scrobble-body");
  await shot(page, ".finding", "web-layout-scrobble-findings");
  console.log(`scrobble: ${cfg.pointers.map((p) => p.rule + " at " + p.key).join(", ")} marked; each message said once; the link shows the place`);

  // A query parameter Trakt does not read, marked in the URL.
  await page.click(`tr.row:has(td.req:text-is("${cfg.resend}"))`);
  await page.waitForSelector(`#request-url .param.marked[data-name="${cfg.param}"]`);
  console.log(`${cfg.resend}: ${cfg.param} marked in the URL`);

  // A finding about the answer: marked in the response body.
  await page.click(`tr.row:has(td.req:text-is("${cfg.stremio}"))`);
  await page.waitForSelector('#response-body .marked[data-rules~="stremio.api.error"]');
  const error = await page.textContent('#response-body .marked[data-rules~="stremio.api.error"]');
  if (!error.startsWith('"error"')) fail("the answer's mark is on " + error);
  console.log(`${cfg.stremio}: the answer's "error" marked`);

  // The body that is not JSON: a caret where the parser stopped.
  await page.click(`tr.row:has(td.req:text-is("${cfg.broken}"))`);
  await page.waitForSelector("#request-body .caret");
  const caret = await page.textContent("#request-body .caret");
  const here = await page.textContent("#request-body .here");
  if (!caret.includes("^ trailing comma") || here !== cfg.caretAt) fail(`the caret says "${caret}" at "${here}"`);
  await shot(page, "#request-url", "web-layout-not-json");
  console.log(`not JSON: "${caret.trim()}" under "${here}"`);

  // The banner goes when dismissed, and stays gone on reload.
  await page.click("#dismiss-notice");
  if (await page.$("#untrusted-ca")) fail("the banner stayed");
  await page.reload();
  await page.waitForSelector("#live.ok", { timeout: 10000 });
  await settle(page);
  if (await page.$("#untrusted-ca")) fail("the dismissed banner came back");
  console.log("the banner is dismissed for this tab");
} finally {
  await browser.close();
}
console.log("OK");
