// Bundles stremio-core-web as Stremio Web's webpack does: the package's own
// worker.js (with the .wasm as a file beside it, fetched by URL) and a page
// script holding the package's Bridge. Output: dist/ (page.html, page.js,
// worker.js, stremio_core_web_bg.wasm). Run by tests/stremio_core.rs.
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
await build({
  ...common,
  entryPoints: [join(here, "node_modules/@stremio/stremio-core-web/worker.js")],
  outfile: join(out, "worker.js"),
});
await build({ ...common, entryPoints: [join(here, "page.js")], outfile: join(out, "page.js") });
copyFileSync(join(here, "page.html"), join(out, "page.html"));
console.log("built " + out);
