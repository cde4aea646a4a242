#!/usr/bin/env bash
# Regenerates crates/core/src/spec/trakt-contract.json from a checkout of Trakt's public
# contract repository (trakt/trakt-api, MIT). A developer's tool: CI and the
# proxy never run it; the data it writes is committed.
#
#   tools/trakt-contract/generate.sh PATH/TO/trakt-api
#
# Needs Node.js (18 or newer) and npm. It runs Trakt's own OpenAPI generator
# (projects/openapi) under tsx, so no Deno is needed, then compact.mjs keeps
# the facts trakt-doctor lints with.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
checkout="$(cd "${1:?usage: generate.sh PATH/TO/trakt-api}" && pwd)"
[ -f "$checkout/projects/openapi/generate.ts" ] || {
  echo "generate.sh: $checkout is not a trakt/trakt-api checkout (no projects/openapi/generate.ts)" >&2
  exit 2
}
commit="$(git -C "$checkout" rev-parse HEAD)"
date="$(git -C "$checkout" log -1 --format=%cs HEAD)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/" && (cd "$work" && npm install --silent --no-audit --no-fund)
cp "$here/contract-deps/package.json" "$work/contract-deps.json"
mkdir -p "$work/api-deps" && cp "$work/contract-deps.json" "$work/api-deps/package.json"
(cd "$work/api-deps" && npm install --silent --no-audit --no-fund)

# Trakt's projects use Deno's import maps; give Node the same names:
# the generator and the contracts resolve packages from the work folder,
# and the contracts get the zod-openapi major they are written for.
copy="$work/trakt-api"
git -C "$checkout" archive --format=tar HEAD projects | (mkdir -p "$copy" && tar -x -C "$copy")
echo '{"type":"module"}' >"$copy/package.json"
echo '{"name":"@trakt/api","type":"module","main":"mod.js"}' >"$copy/projects/api/package.json"
echo '{"type":"module"}' >"$copy/projects/openapi/package.json"
ln -s "$work/node_modules" "$copy/node_modules"
mkdir -p "$copy/projects/api/node_modules/@anatine"
cp -r "$work/api-deps/node_modules/@anatine/zod-openapi" "$copy/projects/api/node_modules/@anatine/"
mkdir -p "$work/node_modules/@trakt" && ln -s "$copy/projects/api" "$work/node_modules/@trakt/api"

TRAKT_API_CHECKOUT="$copy" "$work/node_modules/.bin/tsx" "$here/dump.ts" "$work/openapi.json"
node "$here/compact.mjs" "$work/openapi.json" "$checkout" "$commit" "$date" \
  "$repo/crates/core/src/spec/trakt-contract.json"
echo "wrote crates/core/src/spec/trakt-contract.json from trakt/trakt-api $commit ($date)"
