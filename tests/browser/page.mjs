// The browser page (page/, served by `trakt-doctor open FILE`) in headless
// Chromium: for each case, the page opens its file, and what it found in
// every exchange (window.traktDoctor.results) must equal `trakt-doctor
// lint --format json` on the same file (fingerprints normalised: each run
// has its own key). No request may leave after load, none ever to another
// origin, and no secret of the file may show. tests/page.rs drives it.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

// The test's configuration: a JSON file (the expected findings are long).
const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const fail = (why) => { console.error("FAIL: " + why); process.exit(1); };
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const launchArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Fingerprints differ per key; everything else must be equal.
const normalise = (value) => JSON.parse(JSON.stringify(value).replace(/sha256:[0-9a-f]{8}/g, "sha256:xxxxxxxx"));

function compare(name, expected, actual) {
  const strip = (list) => list.map((e) => normalise({ id: e.id, method: e.method, url: e.url, status: e.status, error: e.error ?? null, findings: e.findings, diagnosis: e.diagnosis ?? null }));
  const want = strip(expected), got = strip(actual);
  if (want.length !== got.length) fail(`${name}: lint has ${want.length} exchanges, the page ${got.length}`);
  for (let i = 0; i < want.length; i++) {
    const a = JSON.stringify(want[i]), b = JSON.stringify(got[i]);
    if (a !== b) fail(`${name}: exchange #${want[i].id} differs\nlint: ${a}\npage: ${b}`);
  }
  const findings = want.reduce((n, e) => n + e.findings.length, 0);
  const diagnoses = want.filter((e) => e.diagnosis).length;
  if (!findings || !diagnoses) fail(`${name}: a case without findings or diagnoses proves little (${findings}, ${diagnoses})`);
  console.log(`${name}: same findings (${want.length} exchanges, ${findings} findings, ${diagnoses} diagnoses)`);
}

// Opens `url`, counting requests: those before the file is checked (the
// page's own files and the file) and those after.
async function openPage(browser, url) {
  const page = await browser.newPage();
  const origin = new URL(url).origin;
  const requests = { before: [], after: [], done: false };
  page.on("pageerror", (e) => fail("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") fail("console error: " + m.text()); });
  const count = (r) => {
    if (!r.url().startsWith(origin + "/") && !r.url().startsWith("data:")) fail(`a request to another origin: ${r.url()}`);
    (requests.done ? requests.after : requests.before).push(r.url());
  };
  page.on("request", count);
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
  return { page, requests };
}

async function checked(page, name) {
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 120000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== "done") fail(`${name}: ${await page.textContent("#error")}`);
}

// Clicks through what a user does after load: a failed exchange's detail,
// the filters, the report. None of it may make a request or show a secret.
async function useIt(page, requests, name, expected) {
  requests.done = true;
  await page.waitForSelector("#rows tr");
  const errorRow = await page.$("#rows tr:has(.badge.error)");
  if (!errorRow) fail(`${name}: no row with an error badge`);
  await errorRow.click();
  await page.waitForSelector("#detail .finding");
  // The filter: the exchanges lint would count as failed or with an error finding.
  const failing = expected.filter((e) => e.status == null || e.status >= 400 || e.error ||
    e.findings.some((f) => f.severity === "error" && !f.fixed)).length;
  await page.check("#f-errors");
  await page.waitForFunction((n) => / of (\d+) shown/.exec(document.querySelector("#shown").textContent)?.[1] === String(n), failing, { timeout: 5000 })
    .catch(async () => fail(`${name}: errors only should show ${failing}: ${await page.textContent("#shown")}`));
  await page.uncheck("#f-errors");
  await page.waitForFunction((n) => / of (\d+) shown/.exec(document.querySelector("#shown").textContent)?.[1] === String(n), expected.length, { timeout: 5000 })
    .catch(async () => fail(`${name}: all should show ${expected.length}: ${await page.textContent("#shown")}`));
  // A finding auto-fix would repair says so, as in the web view.
  const rule = "header.api-version.missing";
  if (expected.some((e) => e.findings.some((f) => f.rule === rule && !f.fixed))) {
    await page.fill("#f-text", rule);
    const having = expected.filter((e) => e.findings.some((f) => f.rule === rule)).length;
    await page.waitForFunction((n) => / of (\d+) shown/.exec(document.querySelector("#shown").textContent)?.[1] === String(n), having, { timeout: 5000 })
      .catch(async () => fail(`${name}: searching ${rule} should show ${having}: ${await page.textContent("#shown")}`));
    await page.click("#rows tr:first-child");
    await page.waitForSelector(`#detail .finding[data-rule="${rule}"] .badge.repairable`, { timeout: 5000 })
      .catch(() => fail(`${name}: ${rule} is not marked repairable`));
    await page.fill("#f-text", "");
  }
  await page.click("#copy-report");
  await page.waitForSelector("#report-text");
  const report = await page.inputValue("#report-text");
  if (!report.includes("trakt-doctor")) fail(`${name}: the report is ${report.slice(0, 200)}`);
  const text = (await page.evaluate(() => document.body.innerText)) + report;
  for (const secret of cfg.secrets) if (text.includes(secret)) fail(`${name}: the page shows a secret (${secret.slice(0, 12)}…)`);
  if (requests.after.length) fail(`${name}: requests after load: ${requests.after.join(", ")}`);
}

const browser = await chromium.launch({ executablePath, args: launchArgs, headless: true });
try {
  for (const c of cfg.cases) {
    const { page, requests } = await openPage(browser, c.url);
    await checked(page, c.name);
    compare(c.name, c.expected, await page.evaluate(() => window.traktDoctor.results()));
    if (!requests.before.some((u) => u.endsWith("/file"))) fail(`${c.name}: the page did not load its file (${requests.before.join(", ")})`);
    await useIt(page, requests, c.name, c.expected);
    await page.close();
  }
  // A file picked with the button, on the page alone.
  const { page, requests } = await openPage(browser, cfg.pick.url);
  const text = await page.textContent("#private");
  if (!/Nothing is uploaded/.test(text)) fail("the page does not say that nothing is uploaded");
  requests.done = true;
  await page.setInputFiles("#file", cfg.pick.file);
  await checked(page, "picked");
  compare("picked file", cfg.pick.expected, await page.evaluate(() => window.traktDoctor.results()));
  await useIt(page, requests, "picked", cfg.pick.expected);
  // A file dropped on the page, as a user drags it from their file manager.
  const dropped = cfg.cases[cfg.cases.length - 1];
  const content = readFileSync(dropped.file, "utf8");
  const transfer = await page.evaluateHandle(([text, name]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name));
    return dt;
  }, [content, dropped.name]);
  await page.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
  await page.waitForFunction((n) => document.body.dataset.count === String(n) && document.body.dataset.state === "done", dropped.expected.length, { timeout: 60000 })
    .catch(async () => fail(`dropped: ${await page.textContent("#error")} ${await page.textContent("#shown")}`));
  compare(`dropped ${dropped.name}`, dropped.expected, await page.evaluate(() => window.traktDoctor.results()));
  if (requests.after.length) fail(`dropped: requests after load: ${requests.after.join(", ")}`);
  console.log("no request after load");
  console.log("OK");
} finally {
  await browser.close();
}
