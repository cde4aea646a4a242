// What the web view's browser tests (ui.mjs, resend.mjs) share: Debian's
// headless Chromium (via playwright-core) opened on the web view until its
// live stream is up, the curls that make traffic through the proxy, and the
// way a check fails.
import { chromium } from "playwright-core";
import { spawnSync } from "node:child_process";

// Prints why and exits non-zero: tests/browser.rs shows the output.
export const fail = (why) => { console.error("FAIL: " + why); process.exit(1); };

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const launchArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Opens `url` (the web view) in a new context made with `contextOptions`
// and waits for the live stream. The caller closes `browser`.
export async function openWebView(url, contextOptions) {
  const browser = await chromium.launch({ executablePath, args: launchArgs, headless: true });
  try {
    const context = await browser.newContext(contextOptions);
    const page = await context.newPage();
    page.on("pageerror", (e) => fail("page error: " + e.message));
    await page.goto(url);
    await page.waitForSelector("#live.ok", { timeout: 10000 });
    return { browser, page };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

// Runs curl once for each argument list (each goes through the proxy),
// each allowed `maxTime` seconds.
export function runCurls(curls, maxTime = 20) {
  for (const args of curls) {
    const run = spawnSync("curl", ["--silent", "--max-time", String(maxTime), ...args]);
    if (run.error) fail("curl: " + run.error.message);
  }
}
