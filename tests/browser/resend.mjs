// Drives the web view's actions on an exchange in headless Chromium: the
// three resends, the confirmation of a write, the side-by-side view, copy as
// curl and the report. Called by tests/browser.rs with one JSON argument:
// { page, curls: [[args...]...], evict: [[args...]...], secret, typed, screenshot }
// (page: the start link, which unlocks the actions).
// Prints what it checked; exits non-zero with a reason on the first failure.
import { fail, openWebView, runCurls } from "./webview.mjs";

const cfg = JSON.parse(process.argv[2]);

const { browser, page } = await openWebView(cfg.page, { viewport: { width: 1400, height: 1000 } });
try {
  runCurls(cfg.curls);
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length >= n, cfg.curls.length, { timeout: 5000 });
  const rows = () => page.$$eval("tr.row", (r) => r.length);
  const open = async (text) => {
    await page.click(`tr.row:has(td.req:text-is("${text}"))`);
    await page.waitForSelector("#actions");
  };
  const resentStatus = () => page.textContent("#side-by-side .resent .status");
  const noSecret = async (what) => {
    const html = await page.content();
    if (html.includes(cfg.secret)) fail(`${what}: the secret is on the page`);
  };

  // 1. A GET resends at once, without asking, and shows beside the original.
  await open("api.trakt.tv/users/settings");
  let before = await rows();
  await page.click("#act-resend");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  if (await page.$("#confirm")) fail("a GET asked for confirmation");
  if ((await resentStatus()).trim() !== "200") fail("the resent GET is " + (await resentStatus()));
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length > n, before, { timeout: 5000 });
  console.log("Resend: a GET went again without confirmation, 200 beside the original");

  // 2. A write asks first, saying what it changes; Cancel sends nothing.
  await open("api.trakt.tv/scrobble/start");
  before = await rows();
  await page.click("#act-resend");
  await page.waitForSelector("#confirm-text");
  const question = await page.textContent("#confirm-text");
  if (!/POST/.test(question) || !/scrobbl|watch|play/i.test(question)) fail("the confirmation says: " + question);
  await page.click("#confirm-cancel");
  await page.waitForTimeout(500);
  if ((await rows()) !== before) fail("Cancel sent the write");
  console.log("confirmation of a write: " + question.trim());
  await page.click("#act-resend");
  await page.click("#confirm-send");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  if ((await resentStatus()).trim() !== "400") fail("the write resent as captured is " + (await resentStatus()));
  console.log("Resend of the write, confirmed: 400 again, as captured");

  // 3. With fixes: the repairs are shown first, then the 400 becomes a 201.
  await page.click("#act-resend-fixed");
  await page.waitForSelector('#confirm .fix[data-rule="header.api-version.missing"]');
  await page.click("#confirm-send");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  if ((await resentStatus()).trim() !== "201") fail("the fixed resend is " + (await resentStatus()));
  const original = (await page.textContent("#side-by-side .original .status")).trim();
  if (original !== "400") fail("the original shows " + original);
  const added = await page.$$eval("#body-diff .add", (lines) => lines.map((l) => l.textContent).join(""));
  if (!added.includes("3373536619")) fail("the body diff lacks the new answer: " + added);
  console.log("Resend with fixes: 400 → 201 side by side, body diff shown");
  await noSecret("after the resends");

  // 4. Edit and resend: the findings follow the typing.
  await page.click("#act-edit");
  await page.waitForSelector("#edit-findings[data-rules]");
  const rulesNow = () => page.getAttribute("#edit-findings", "data-rules");
  if (!(await rulesNow()).includes("header.api-version.missing")) fail("the form lacks the captured finding: " + (await rulesNow()));
  const headers = await page.inputValue("#edit-headers");
  await page.fill("#edit-headers", headers + "\ntrakt-api-version: 2");
  await page.waitForFunction(() => !document.querySelector("#edit-findings").dataset.rules.includes("header.api-version.missing"), null, { timeout: 5000 });
  const body = await page.inputValue("#edit-body");
  await page.fill("#edit-body", body.slice(0, -1));
  await page.waitForFunction(() => document.querySelector("#edit-findings").dataset.rules.includes("body.json.invalid"), null, { timeout: 5000 });
  await page.fill("#edit-body", body);
  await page.waitForFunction(() => !document.querySelector("#edit-findings").dataset.rules.includes("body.json.invalid"), null, { timeout: 5000 });
  console.log("Edit and resend: findings update as the user types");
  await page.click("#edit-send");
  await page.waitForSelector("#confirm-text");
  await page.click("#confirm-send");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  if ((await resentStatus()).trim() !== "201") fail("the edited resend is " + (await resentStatus()));
  console.log("Edit and resend: the edited write, confirmed, got 201");

  await page.screenshot({ path: cfg.screenshot, fullPage: true });

  // 5. Copy as curl: secrets as environment variables, per shell.
  await page.click("#act-curl");
  await page.click("#curl-posix");
  await page.waitForSelector('#curl-command[data-shell="posix"]');
  const posix = await page.textContent("#curl-command");
  if (!posix.includes("$TRAKT_ACCESS_TOKEN") || posix.includes(cfg.secret) || !posix.startsWith("curl")) fail("POSIX command: " + posix);
  await page.click("#act-curl");
  await page.click("#curl-powershell");
  await page.waitForSelector('#curl-command[data-shell="powershell"]');
  const powershell = await page.textContent("#curl-command");
  if (!powershell.includes("env:TRAKT_ACCESS_TOKEN") || !powershell.startsWith("curl.exe") || powershell.includes(cfg.secret)) fail("PowerShell command: " + powershell);
  await page.click("#act-curl");
  await page.check("#curl-reveal");
  await page.click("#curl-posix");
  await page.waitForFunction((s) => document.querySelector("#curl-command").textContent.includes(s), cfg.secret, { timeout: 5000 });
  console.log("Copy as curl: env vars for POSIX and PowerShell, the real value only when asked");
  await page.click("#act-curl");
  await page.uncheck("#curl-reveal");
  await page.click("#act-curl");

  // 6. Report: the Markdown, with placeholders.
  await page.click("#act-report");
  await page.waitForSelector("#report-text");
  const report = await page.inputValue("#report-text");
  if (!report.includes("POST api.trakt.tv/scrobble/start") || !report.includes("<access token>") || report.includes(cfg.secret) || report.includes("sha256:")) fail("report: " + report);
  if (!report.includes("Resent as #")) fail("the report lacks the resends: " + report);
  console.log("Report: Markdown with placeholders and the resends");
  // 7. An exchange whose original was evicted asks for its secret by name.
  before = await rows();
  runCurls(cfg.evict, 60);
  await page.waitForFunction((n) => document.querySelectorAll("tr.row").length >= n, before + cfg.evict.length, { timeout: 10000 });
  await open("api.trakt.tv/users/settings?evicted=1");
  await page.click("#act-resend");
  await page.waitForSelector('#secrets input[data-secret="access_token"]');
  const label = await page.textContent("#secrets");
  if (!label.includes("access token")) fail("the secrets form says: " + label);
  await page.fill('#secrets input[data-secret="access_token"]', cfg.typed);
  await page.click("#confirm-send");
  await page.waitForSelector("#side-by-side", { timeout: 10000 });
  if ((await resentStatus()).trim() !== "200") fail("the resend with the typed token is " + (await resentStatus()));
  console.log("a secret no live original holds is asked for by name: " + label.trim());
  console.log("OK");
} finally {
  await browser.close();
}
