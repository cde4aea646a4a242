// Chromium as the proxied client, the stand-in for Stremio's Chromium-based
// shells: --proxy-server points at trakt-doctor, and the CA is trusted
// through an NSS database in a temporary HOME (as a Linux user does).
// Argument: { proxy, url, home, expect, profile? } (profile: a fresh folder per load).
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
process.env.HOME = cfg.home;
const context = await chromium.launchPersistentContext(cfg.profile || cfg.home + "/profile", {
  executablePath,
  headless: true,
  env: { ...process.env, HOME: cfg.home },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", `--proxy-server=${cfg.proxy}`],
});
try {
  const page = await context.newPage();
  const response = await page.goto(cfg.url);
  const text = await page.textContent("body");
  if (!response.ok() || !text.includes(cfg.expect)) {
    console.error(`FAIL: ${response.status()} ${text}`);
    process.exit(1);
  }
  console.log("loaded through the proxy: " + text.trim().slice(0, 80));
} catch (e) {
  console.error("FAIL: " + e.message);
  process.exit(1);
} finally {
  await context.close();
}
console.log("OK");
