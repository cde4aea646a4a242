// Turns the OpenAPI document that Trakt's own generator (trakt/trakt-api,
// projects/openapi) makes of its ts-rest contracts into trakt-doctor's
// compact spec data (crates/core/src/spec/trakt-contract.json).
//
// Kept: per operation the method, path, path parameters with their schemas,
// query parameters, OAuth need, request body schema, success status and
// response schema. Dropped: every description, example and title (facts
// only, in our own shape). Large schemas that repeat are stored once under
// "schemas" and referred to as {"$ref": N}.
//
// Usage: node compact.mjs OPENAPI.json TRAKT_API_CHECKOUT COMMIT DATE OUT.json

import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [openapiPath, checkout, commit, date, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node compact.mjs OPENAPI.json TRAKT_API_CHECKOUT COMMIT DATE OUT.json');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(openapiPath, 'utf8'));

// Schema keywords the linter reads; everything else is prose or tooling.
const KEEP = new Set([
  'type', 'enum', 'nullable', 'format', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'items', 'minItems',
  'maxItems', 'properties', 'required', 'additionalProperties', 'anyOf', 'oneOf', 'allOf',
]);

function clean(schema) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!KEEP.has(key)) continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, clean(sub)]),
      );
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      out[key] = clean(value);
    } else if (key === 'anyOf' || key === 'oneOf') {
      // The contract's oneOf lists alternatives that may overlap (ids by trakt
      // or by imdb, both present is fine): the linter reads them as anyOf.
      out.anyOf = [...(out.anyOf ?? []), ...value.map(clean)];
    } else if (key === 'allOf') {
      out.allOf = value.map(clean);
    } else {
      out[key] = value;
    }
  }
  return out;
}

// Interning: a schema serialised to more than this many characters that
// occurs more than once is stored once.
const INTERN_MIN = 160;
const counts = new Map();
function count(schema) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
  const text = JSON.stringify(schema);
  if (text.length >= INTERN_MIN) counts.set(text, (counts.get(text) ?? 0) + 1);
  for (const sub of children(schema)) count(sub);
}
function children(schema) {
  const out = [];
  if (schema.properties) out.push(...Object.values(schema.properties));
  if (schema.items) out.push(schema.items);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.push(schema.additionalProperties);
  }
  for (const key of ['anyOf', 'allOf']) if (schema[key]) out.push(...schema[key]);
  return out;
}
const table = [];
const index = new Map();
function intern(schema) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const text = JSON.stringify(schema);
  const shared = text.length >= INTERN_MIN && (counts.get(text) ?? 0) > 1;
  if (shared && index.has(text)) return { $ref: index.get(text) };
  const out = { ...schema };
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([name, sub]) => [name, intern(sub)]),
    );
  }
  if (out.items) out.items = intern(out.items);
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = intern(out.additionalProperties);
  }
  for (const key of ['anyOf', 'allOf']) if (out[key]) out[key] = out[key].map(intern);
  if (!shared) return out;
  const id = table.length;
  table.push(null);
  index.set(text, id);
  table[id] = out;
  return { $ref: id };
}

// OAuth need: the route metadata where Trakt set it (the generator then
// emits one security alternative), else the description's marker.
function auth(op) {
  const security = op.security ?? [];
  if (security.length === 1) {
    return 'traktOAuth' in security[0] ? 'required' : 'none';
  }
  const text = op.description ?? '';
  if (text.includes('🔒')) return 'required';
  return 'optional';
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];
const operations = [];
for (const [path, item] of Object.entries(doc.paths)) {
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    const params = {};
    const query = {};
    const queryRequired = [];
    for (const p of op.parameters ?? []) {
      if (p.in === 'path') params[p.name] = clean(p.schema ?? {});
      if (p.in === 'query') {
        query[p.name] = clean(p.schema ?? p.content?.['application/json']?.schema ?? {});
        if (p.required) queryRequired.push(p.name);
      }
    }
    const body = op.requestBody?.content?.['application/json']?.schema;
    const statuses = Object.keys(op.responses ?? {}).map(Number).sort((a, b) => a - b);
    const success = statuses.find((s) => s >= 200 && s < 300) ?? 200;
    const response = op.responses?.[String(success)]?.content?.['application/json']?.schema;
    const host = (op.servers ?? []).some((s) => s.url.includes('auth.')) ? 'auth' : 'api';
    operations.push({
      method: method.toUpperCase(),
      path,
      host,
      auth: auth(op),
      params,
      query,
      query_required: queryRequired,
      // An empty schema is the contract's way of saying "no body".
      body: body && Object.keys(clean(body)).length > 0 ? clean(body) : null,
      success,
      statuses,
      response: response && Object.keys(response).length > 0 ? clean(response) : null,
    });
  }
}
operations.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));

for (const op of operations) {
  for (const s of [...Object.values(op.params), ...Object.values(op.query), op.body, op.response]) {
    count(s);
  }
}
for (const op of operations) {
  op.params = Object.fromEntries(Object.entries(op.params).map(([k, s]) => [k, intern(s)]));
  op.query = Object.fromEntries(Object.entries(op.query).map(([k, s]) => [k, intern(s)]));
  op.body = intern(op.body);
  op.response = intern(op.response);
}

// `extended` is a TypeScript-only type in the contract (z.custom), so the
// OpenAPI document has no values for it: read them from the factory calls.
const extended = new Set();
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (name.endsWith('.ts')) {
      const text = readFileSync(full, 'utf8');
      for (const m of text.matchAll(/extendedQuerySchemaFactory<\s*\[([^\]]*)\]\s*>/g)) {
        for (const v of m[1].matchAll(/'([^']+)'/g)) {
          for (const part of v[1].split(',')) extended.add(part.trim());
        }
      }
    }
  }
}
walk(join(checkout, 'projects/api/src/contracts'));

const out = {
  contract: { repository: 'trakt/trakt-api', commit, date },
  extended: [...extended].sort(),
  operations,
  schemas: table,
};
// One operation and one shared schema a line, so a new snapshot diffs readably.
const lines = (items) => items.map((item) => '  ' + JSON.stringify(item)).join(',\n');
writeFileSync(
  outPath,
  `{"contract": ${JSON.stringify(out.contract)},\n"extended": ${JSON.stringify(out.extended)},\n` +
    `"operations": [\n${lines(out.operations)}\n],\n"schemas": [\n${lines(out.schemas)}\n]}\n`,
);
console.error(`${operations.length} operations, ${table.length} shared schemas, ${JSON.stringify(out).length} bytes`);
