// Bundles stremio-core-web as Stremio Web's webpack does: the package's own
// worker.js (with the .wasm as a file beside it, fetched by URL) and a page
// script holding the package's Bridge. Output: dist/ (page.html, page.js,
// worker.js, stremio_core_web_bg.wasm) for the current core, dist/old/ the
// same for the older one (`stremio-core-web-old`). Run by tests/stremio_core.rs.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "chrome110",
  logLevel: "warning",
  // The wasm stays a separate file, loaded with fetch() relative to the worker.
  loader: { ".wasm": "file" },
  assetNames: "[name]",
};
/** One core: its worker and the page with its own Bridge, in `dir`. */
async function buildCore(pkg, dir) {
  mkdirSync(dir, { recursive: true });
  await build({
    ...common,
    entryPoints: [join(here, "node_modules", pkg, "worker.js")],
    outfile: join(dir, "worker.js"),
  });
  // page.js names the current package; an older core's page takes that core's Bridge.
  const alias = pkg === "@stremio/stremio-core-web" ? {} : { "@stremio/stremio-core-web": pkg };
  await build({ ...common, alias, entryPoints: [join(here, "page.js")], outfile: join(dir, "page.js") });
  copyFileSync(join(here, "page.html"), join(dir, "page.html"));
  console.log("built " + dir);
}
await buildCore("@stremio/stremio-core-web", out);
// An older release still in use (npm alias in package.json): dist/old/.
await buildCore("stremio-core-web-old", join(out, "old"));
