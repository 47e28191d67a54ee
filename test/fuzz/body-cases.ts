/** Invalid request bodies for an operation: wrong types, missing and unknown fields, huge, deep, not JSON. */
import { JSON_TYPE, type Case } from './http-answers.ts';
import type { RawRequest } from './http-client.ts';
import type { Rng } from './prng.ts';
import { validValue, wrongTypeValue, type Operation, type Schema } from './schema-values.ts';

function jsonRequest(
  operation: Operation,
  auth: string,
  body: string | Buffer,
  extra: string[] = [],
): RawRequest {
  return { method: operation.method, target: operation.path, headers: [auth, JSON_TYPE, ...extra], body };
}

export function bodyCases(
  operation: Operation,
  schema: Schema,
  auth: string,
  target: string,
  rng: Rng,
  rounds: number,
): Case[] {
  const cases: Case[] = [];
  const add = (what: string, request: RawRequest, expect: Case['expect'] = '4xx') =>
    cases.push({
      area: 'api',
      name: `${operation.method} ${operation.path}: body ${what}`,
      request: { ...request, target },
      expect,
    });
  const valid = validValue(schema) as Record<string, unknown>;
  const text = JSON.stringify(valid);
  const json = (body: string | Buffer, extra: string[] = []) => jsonRequest(operation, auth, body, extra);

  for (const top of ['[]', '"text"', '42', 'null', 'true', '[{}]']) add(`top-level ${top}`, json(top));
  add('empty', json(''));
  add('whitespace', json('   '));
  add('invalid JSON', json('{"channel":'));
  add('trailing comma', json(text.replace(/}$/, ',}')));
  add('single quotes', json(text.replaceAll('"', "'")));
  add('BOM', json(`\ufeff${text}`));
  add('two objects', json(text + text));
  add('NaN', json(text.replace(/}$/, ',"x":NaN}')));
  add('1e400', json(text.replace(/}$/, ',"x":1e400}')));
  add('unknown property', json(text.replace(/}$/, ',"nope":1}')));
  add('__proto__ property', json(text.replace(/}$/, ',"__proto__":{"channel":"chat:a"}}')));
  const limit = operation.path.endsWith('/batch') ? 8 * 1024 * 1024 : 1024 * 1024;
  add('over the body limit', json(`{"pad":"${'p'.repeat(limit + 100_000)}"}`));
  add('declared over the body limit', { ...json('{"pad":"'), declaredLength: limit + 1 });
  add(
    'invalid UTF-8',
    json(Buffer.concat([Buffer.from('{"channel":"'), Buffer.from([0xff, 0xc0]), Buffer.from('"}')])),
  );
  add('lone surrogate escape', json(text.replace(/"[^"]*"(?=[,}])/, '"\\ud800"')), 'any');
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  add('nested 400,000 deep', json(`{"deep":${deep(400_000)}}`));
  for (const key of Object.keys(schema.properties ?? {})) {
    if (schema.properties?.[key]?.type === undefined) {
      add(
        `${key} nested 400,000 deep`,
        json(JSON.stringify({ ...valid, [key]: 0 }).replace(`"${key}":0`, `"${key}":${deep(400_000)}`)),
        'any',
      );
    }
  }
  for (const contentType of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
    'application/json-patch+json',
    ';;;',
    `application/${'j'.repeat(2000)}`,
  ]) {
    add(`content-type ${contentType.slice(0, 40)}`, {
      method: operation.method,
      target,
      headers: [auth, `Content-Type: ${contentType}`],
      body: text,
    });
  }
  add('no content-type', { method: operation.method, target, headers: [auth], body: text });
  add(
    'content-type with charset',
    { method: operation.method, target, headers: [auth, `${JSON_TYPE}; charset=utf-8`], body: text },
    'any',
  );
  add('content-length too short', {
    method: operation.method,
    target,
    headers: [auth, JSON_TYPE, 'Content-Length: 3'],
    body: text,
    contentLength: false,
  });
  add(
    'chunked body',
    {
      method: operation.method,
      target,
      headers: [auth, JSON_TYPE, 'Transfer-Encoding: chunked'],
      body: `${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`,
      contentLength: false,
    },
    'any',
  );

  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const required = (schema.required ?? []).includes(key);
    if (required) {
      const rest = Object.fromEntries(Object.entries(valid).filter(([name]) => name !== key));
      add(`without ${key}`, json(JSON.stringify(rest)));
    }
    if (property.type !== undefined) {
      for (let i = 0; i < 3; i++)
        add(
          `${key} of the wrong type #${i}`,
          json(JSON.stringify({ ...valid, [key]: wrongTypeValue(property, rng) })),
        );
    }
    for (const [what, value] of constraintBreakers(property))
      add(`${key} ${what}`, json(JSON.stringify({ ...valid, [key]: value })));
  }
  for (let i = 0; i < rounds; i++) add(`random mutation #${i}`, json(mutate(text, rng)), 'any');
  return cases;
}

/** Values of the right type that break a constraint. */
function constraintBreakers(schema: Schema): [string, unknown][] {
  const out: [string, unknown][] = [];
  if (schema.type === 'string') {
    if (schema.minLength !== undefined) out.push(['too short', 'x'.repeat(schema.minLength - 1)]);
    if (schema.maxLength !== undefined) out.push(['too long', 'x'.repeat(schema.maxLength + 1)]);
  }
  if (schema.type === 'array') {
    if (schema.minItems !== undefined) out.push(['with too few items', []]);
    if (schema.maxItems !== undefined && schema.items !== undefined) {
      const item = validValue(schema.items);
      const many = Array.from({ length: schema.maxItems + 1 }, (_, i) =>
        typeof item === 'string' ? `${item}-${i}` : item,
      );
      out.push(['with too many items', many]);
    }
    if (schema.items?.type === 'string') out.push(['with duplicates', ['chat:a', 'chat:a']]);
    if (schema.items?.type === 'object') out.push(['with a wrong item', [{}]], ['with a null item', [null]]);
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    if (schema.minimum !== undefined) out.push(['below the minimum', schema.minimum - 1]);
    out.push(['fractional', 1.5]);
  }
  return out;
}

/** A random byte-level mutation of JSON text. */
function mutate(text: string, rng: Rng): string {
  const at = rng.int(text.length);
  switch (rng.int(5)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1);
    case 2:
      return (
        text.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000']) + text.slice(at)
      );
    case 3:
      return text.slice(0, at) + rng.unicode(rng.range(1, 10)) + text.slice(at);
    default:
      return text.replace(/"[^"]*"(?=[,}])/, JSON.stringify(rng.unicode(rng.range(0, 20))));
  }
}
