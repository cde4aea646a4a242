// Drives the web view in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core). Called by tests/browser.rs with one JSON argument:
// { page, plain, curls: [[args...]...], expectRows, errorRule, summary, screenshot, harPath }
// (page: the start link that unlocks the actions; plain: the web view's address).
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
  const okRows = await page.$$eval("tr.row td.status", (cells) => cells.map((c) => c.textContent));
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

  // The start link left the address bar, and its cookie is out of scripts' reach.
  if (page.url() !== cfg.plain) fail("the page is at " + page.url() + " after the start link");
  if ((await page.evaluate(() => document.cookie)).includes("trakt_doctor_unlock")) fail("a script reads the unlock cookie");
  const cookie = (await page.context().cookies()).find((c) => c.name.startsWith("trakt_doctor_unlock_"));
  if (!cookie || !cookie.httpOnly || cookie.sameSite !== "Strict" || cookie.secure) fail("the unlock cookie is " + JSON.stringify(cookie));
  console.log("the start link redirected to " + page.url() + " and set an HttpOnly, SameSite=Strict cookie");

  // Without the start link (another profile, another user of this computer): read-only.
  const locked = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  locked.on("pageerror", (e) => fail("page error (read-only): " + e.message));
  await locked.goto(cfg.plain);
  await locked.waitForSelector("#live.ok", { timeout: 10000 });
  const banner = await locked.textContent("#locked");
  if (!banner.includes("open the link trakt-doctor printed when it started")) fail("the read-only banner says: " + banner);
  if (await locked.getAttribute('meta[name="trakt-doctor-token"]', "content")) fail("the read-only page has a token");
  await locked.waitForFunction((n) => document.querySelectorAll("tr.row").length >= n, cfg.expectRows, { timeout: 5000 });
  await locked.click("tr.row:has(.badge.error)");
  await locked.waitForSelector("#diagnosis");
  for (const id of ["#clear", "#fix-toggle", "#act-resend", "#act-resend-fixed", "#act-edit", "#act-curl", "#act-report"]) {
    if (!(await locked.isDisabled(id))) fail(id + " is enabled on the read-only page");
  }
  const refused = await locked.evaluate(async () => (await fetch("/api/clear", { method: "POST", headers: { "x-trakt-doctor-token": "" } })).status);
  if (refused !== 403) fail("a script on the read-only page cleared: " + refused);
  console.log("without the start link: " + banner.trim().slice(0, 60) + "…; actions disabled, no token, the server refuses");
} finally {
  await browser.close();
}
console.log("OK");
