// Plays a Stremio session with the real client core (stremio-core-web in a
// Web Worker, as Stremio Web runs it) in Debian's Chromium, proxied through
// trakt-doctor. Argument: JSON config from tests/stremio_core.rs:
//   { proxy, hosts, home, dist, appVersion, email, password, link, installTrakt,
//     logoutTrakt, movie, series, streamUrl, pullUserArgs?, seek? }
// `dist` is the built core (dist/ or dist/old/); `pullUserArgs` and `seek`
// (default true) say whether that core's PullUserFromAPI takes `args` and
// whether it has the player's Seek action.
// Only the listed hosts go to trakt-doctor; anything else goes to a closed
// loopback port, so nothing leaves the machine (a PAC script, which
// --proxy-server cannot express). The page itself is served on 127.0.0.1.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { join, extname } from "node:path";

const cfg = JSON.parse(process.argv[2]);
const log = (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
const t0 = Date.now();

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const server = createServer(async (req, res) => {
  const name = new URL(req.url, "http://x").pathname.replace(/^\/+/, "") || "page.html";
  try {
    const body = await readFile(join(cfg.dist, name.replace(/\.\./g, "")));
    res.writeHead(200, { "content-type": types[extname(name)] || "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const pac = `function FindProxyForURL(url, host) {
  if (host === "127.0.0.1" || host === "localhost") return "DIRECT";
  if (${JSON.stringify(cfg.hosts)}.indexOf(host.toLowerCase()) >= 0) return "PROXY ${cfg.proxy}";
  return "PROXY 127.0.0.1:9";
}`;
process.env.HOME = cfg.home;
const context = await chromium.launchPersistentContext(cfg.home + "/profile", {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  env: { ...process.env, HOME: cfg.home },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-features=Translate,OptimizationHints,MediaRouter",
    `--proxy-pac-url=data:application/x-ns-proxy-autoconfig;base64,${Buffer.from(pac).toString("base64")}`],
});

let inFlight = 0;
let lastActivity = Date.now();
const failed = [];
context.on("request", () => { inFlight++; lastActivity = Date.now(); });
context.on("requestfinished", () => { inFlight--; lastActivity = Date.now(); });
context.on("requestfailed", (r) => {
  inFlight--; lastActivity = Date.now();
  failed.push(`${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`);
});

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
/** Waits until no request has been in flight for `quiet` ms. */
async function settle(quiet = 250, limit = 8000) {
  const end = Date.now() + limit;
  while (Date.now() < end) {
    if (inFlight <= 0 && Date.now() - lastActivity >= quiet) return;
    await sleep(50);
  }
  log(`settle: still ${inFlight} request(s) in flight after ${limit} ms`);
}

let exitCode = 0;
try {
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") log(`console: ${m.text()}`); });
  page.on("pageerror", (e) => log(`pageerror: ${e.message}`));
  await page.goto(`${origin}/page.html?appVersion=${encodeURIComponent(cfg.appVersion)}`);
  const ready = await page.evaluate(() => window.core.ready);
  if (ready !== "ready") throw new Error(ready);
  log("core initialised");

  let seen = 0;
  const dispatch = (action, field) => page.evaluate(([a, f]) => window.core.dispatch(a, f), [action, field]);
  const ctx = (action, args) => dispatch(args === undefined ? { action: "Ctx", args: { action } } : { action: "Ctx", args: { action, args } });
  const state = (field) => page.evaluate((f) => window.core.getState(f), field);
  /** Waits for a CoreEvent (or Error) named `name` emitted after the last wait. */
  async function coreEvent(name, limit = 10000) {
    const end = Date.now() + limit;
    while (Date.now() < end) {
      const events = await page.evaluate(() => window.coreEvents);
      for (let i = seen; i < events.length; i++) {
        const e = events[i];
        if (e.name === "CoreEvent" && e.args && e.args.event === name) { seen = i + 1; return e.args; }
        if (e.name === "CoreEvent" && e.args && e.args.event === "Error") {
          log(`core error: ${JSON.stringify(e.args.args).slice(0, 300)}`);
        }
      }
      await sleep(50);
    }
    throw new Error(`no ${name} core event within ${limit} ms`);
  }
  const focus = async () => {
    // Stremio Web's App.js onWindowFocus; PullUserFromAPI takes `args: {}` in 0.62,
    // no args before the 0.5x line (a unit variant: cfg.pullUserArgs false).
    await ctx("PullAddonsFromAPI");
    await ctx("PullUserFromAPI", cfg.pullUserArgs === false ? undefined : {});
    await ctx("SyncLibraryWithAPI");
    await ctx("PullNotifications");
    await settle();
  };

  await focus();
  await ctx("Authenticate", { type: "Login", email: cfg.email, password: cfg.password, facebook: false });
  await coreEvent("UserAuthenticated");
  await settle();
  await focus();
  const user = (await state("ctx")).profile.auth.user;
  log(`logged in as ${user._id}, trakt ${user.trakt ? "present" : "absent"}`);

  if (cfg.link) {
    // Settings → Trakt → Authenticate: the app opens the link page in the browser, not through the core.
    const tab = await context.newPage();
    const response = await tab.goto(`https://www.strem.io/trakt/auth/${user._id}`).catch((e) => { log(`link: ${e.message}`); return null; });
    log(`link flow ended on ${tab.url()} (${response ? response.status() : "no response"})`);
    await settle(400);
    await tab.close();
    await focus(); // back in the app: the window regains focus
  }
  if (cfg.installTrakt) {
    const linked = (await state("ctx")).profile.auth.user.trakt;
    if (!linked) throw new Error("the Trakt link did not reach the account");
    await ctx("InstallTraktAddon");
    await coreEvent("TraktAddonFetched");
    await settle();
  }
  await ctx("GetEvents");
  await settle();

  for (const item of [cfg.movie, cfg.series]) {
    const [type, id, video] = [item.type, item.id, item.video];
    await dispatch({ action: "Load", args: { model: "Player", args: {
      stream: { url: cfg.streamUrl },
      streamRequest: { base: "https://v3-cinemeta.strem.io/manifest.json", path: { resource: "stream", type, id: video, extra: [] } },
      metaRequest: { base: "https://v3-cinemeta.strem.io/manifest.json", path: { resource: "meta", type, id, extra: [] } },
      subtitlesPath: { resource: "subtitles", type, id: video, extra: [] },
    } } }, "player");
    const end = Date.now() + 8000;
    while (!(await state("player")).libraryItem) {
      if (Date.now() > end) throw new Error(`the player never had a library item for ${id}`);
      await sleep(50);
    }
    const player = (action, args) => dispatch({ action: "Player", args: args === undefined ? { action } : { action, args } }, "player");
    const d = item.duration;
    const device = "chromium";
    await player("VideoParamsChanged", { videoParams: { hash: item.hash, size: 734003200, filename: `${id}.mkv` } });
    await player("PausedChanged", { paused: false }); // loaded and playing
    for (const t of [1000, 2000, 3000]) await player("TimeChanged", { time: t, duration: d, device });
    await player("PausedChanged", { paused: true }); // pause
    await player("PausedChanged", { paused: false }); // resume
    // A core without the Seek action (cfg.seek false) sees the seek as the
    // jump in the next TimeChanged, as the player reported it then.
    if (cfg.seek !== false) await player("Seek", { time: item.seekTo, duration: d, device });
    await player("TimeChanged", { time: item.seekTo + 1000, duration: d, device });
    await dispatch({ action: "Unload" }, "player");
    await settle();
    log(`played ${video}`);
  }

  if (cfg.logoutTrakt) {
    await ctx("LogoutTrakt");
    await settle();
  }
  await ctx("Logout");
  await coreEvent("UserLoggedOut");
  await settle(400);
  log("logged out");
  if (failed.length) log(`failed requests:\n  ${failed.join("\n  ")}`);
  // A host the fake does not serve went to the closed port: the core asked for something new.
  const unserved = failed.filter((f) => f.includes("ERR_PROXY_CONNECTION_FAILED"));
  if (unserved.length) throw new Error(`requests to hosts the fake does not serve:\n  ${unserved.join("\n  ")}`);
  console.log("OK");
} catch (e) {
  console.error("FAIL: " + (e && e.stack ? e.stack : e));
  if (failed.length) console.error(`failed requests:\n  ${failed.join("\n  ")}`);
  exitCode = 1;
} finally {
  await context.close();
  server.close();
}
process.exit(exitCode);
