// Drives the web view in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core). Called by tests/browser.rs with one JSON argument:
// { page, curls: [[args...]...], expectRows, errorRule, summary, screenshot, harPath }.
// Prints what it checked; exits non-zero with a reason on the first failure.
import { readFileSync } from "node:fs";
import { fail, openWebView, runCurls } from "./webview.mjs";

const cfg = JSON.parse(process.argv[2]);
// Rendering happens on the next animation frame: wait for it before counting rows.
const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

const { browser, page } = await openWebView(cfg.page, { acceptDownloads: true, viewport: { width: 1400, height: 900 } });
try {
  console.log("page loaded and live");

  // Traffic goes through the proxy only now: rows must appear without a reload.
  runCurls(cfg.curls);
  const started = Date.now();
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length >= n, cfg.expectRows, { timeout: 5000 });
  console.log(`${cfg.expectRows} rows appeared live in ${Date.now() - started} ms`);

  // Click the row with an error: the diagnosis and the finding are shown.
  await page.click("tr.row:has(.badge.error)");
  await page.waitForSelector("#diagnosis");
  const summary = await page.textContent("#diagnosis h2");
  if (!summary.includes(cfg.summary)) fail(`diagnosis "${summary}" lacks "${cfg.summary}"`);
  if (!(await page.$(`.finding[data-rule="${cfg.errorRule}"]`))) fail("finding " + cfg.errorRule + " not shown");
  const link = await page.getAttribute(`.finding[data-rule="${cfg.errorRule}"] a`, "href");
  if (link !== `/rules#${cfg.errorRule}`) fail("rule link is " + link);
  console.log("clicked row shows diagnosis: " + summary);

  // Filters.
  await page.selectOption("#f-severity", "error");
  await settle(page);
  const errorRows = await page.$$eval("tr.row", (rows) => rows.length);
  const errorBadges = await page.$$eval("tr.row .badge.error", (b) => b.length);
  if (errorRows < 1 || errorRows !== errorBadges) fail(`severity filter shows ${errorRows} rows, ${errorBadges} with errors`);
  await page.selectOption("#f-severity", "");
  await page.fill("#f-text", cfg.errorRule);
  await settle(page);
  const textRows = await page.$$eval("tr.row", (rows) => rows.length);
  if (textRows !== errorRows) fail(`text filter for ${cfg.errorRule} shows ${textRows} rows`);
  await page.fill("#f-text", "");
  await page.selectOption("#f-status", "2");
  await settle(page);
  const okRows = await page.$$eval("tr.row td:nth-child(4)", (cells) => cells.map((c) => c.textContent));
  if (!okRows.length || okRows.some((s) => !s.startsWith("2"))) fail("status filter shows " + okRows.join(","));
  await page.selectOption("#f-status", "");
  console.log("filters work");

  await page.screenshot({ path: cfg.screenshot, fullPage: true });

  // HAR download is a valid HAR with every exchange and our custom fields.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-har")]);
  const path = await download.path();
  const har = JSON.parse(readFileSync(path, "utf8"));
  if (har.log.version !== "1.2" || har.log.entries.length !== cfg.expectRows) fail("HAR has " + har.log.entries.length + " entries");
  if (!har.log.entries.some((e) => e._trakt_doctor.findings.some((f) => f.rule === cfg.errorRule))) fail("HAR lacks findings");
  console.log("HAR download valid: " + har.log.entries.length + " entries");

  // The auto-fix toggle changes the proxy's state.
  await page.click("#fix-toggle");
  await page.waitForFunction(() => document.querySelector("#fix-toggle").textContent === "Auto-fix: on");
  console.log("auto-fix toggled on");
} finally {
  await browser.close();
}
console.log("OK");
