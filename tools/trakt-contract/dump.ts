// Runs Trakt's own OpenAPI generator (projects/openapi/generate.ts of a
// trakt/trakt-api checkout) and writes the document it makes. Started by
// generate.sh with tsx; the checkout path comes from the environment.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const checkout = process.env.TRAKT_API_CHECKOUT;
const out = process.argv[2];
if (!checkout || !out) {
  console.error('usage: TRAKT_API_CHECKOUT=DIR tsx dump.ts OUT.json');
  process.exit(2);
}
const { generate } = await import(
  pathToFileURL(`${checkout}/projects/openapi/generate.ts`).href
);
writeFileSync(out, JSON.stringify(generate(), null, 1));
