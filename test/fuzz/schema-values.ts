/** The OpenAPI document's operations, and values that fit (or break) their schemas. */
import type { Rng } from './prng.ts';

export interface Schema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly oneOf?: readonly Schema[];
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly example?: unknown;
  readonly enum?: readonly unknown[];
}

export interface Parameter {
  readonly in: string;
  readonly name: string;
  readonly required?: boolean;
  readonly schema: Schema;
  readonly example?: unknown;
}

export interface Operation {
  readonly method: string;
  readonly path: string;
  readonly secured: boolean;
  readonly query: readonly Parameter[];
  readonly body: Schema | undefined;
}

/** Every route and method of the document, with its query parameters and body schema. */
export function operationsOf(document: unknown): Operation[] {
  const doc = document as {
    paths: Record<
      string,
      Record<string, { parameters?: Parameter[]; requestBody?: unknown; security?: unknown[] }>
    >;
    security?: unknown[];
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const security = operation.security ?? doc.security ?? [];
      const body = (operation.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)
        ?.content?.['application/json']?.schema;
      operations.push({
        method: method.toUpperCase(),
        path,
        secured: security.length > 0,
        query: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query'),
        body,
      });
    }
  }
  return operations;
}

/** A valid value for a schema (the document's examples where it has them). */
export function validValue(schema: Schema, name = ''): unknown {
  if (schema.example !== undefined) return schema.example;
  if (schema.enum !== undefined) return schema.enum[0];
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const required = new Set([...(schema.required ?? []), ...(schema.oneOf?.[0]?.required ?? [])]);
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        if (required.has(key)) out[key] = validValue(property, key);
      }
      return out;
    }
    case 'array':
      return schema.items === undefined ? [] : [validValue(schema.items, name)];
    case 'string':
      return name === 'user' || name === 'client'
        ? 'fuzz-nobody'
        : 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return schema.minimum ?? 0;
    case 'boolean':
      return false;
    default:
      return { text: 'hello' };
  }
}

/** A value that is not of the schema's type. */
export function wrongTypeValue(schema: Schema, rng: Rng): unknown {
  const candidates: unknown[] = [null, true, 42, -1.5, 'text', [], [1], {}, { a: 1 }, 1e308];
  const ofType = (value: unknown): boolean => {
    switch (schema.type) {
      case 'string':
        return typeof value === 'string';
      case 'integer':
        return Number.isInteger(value);
      case 'number':
        return typeof value === 'number';
      case 'boolean':
        return typeof value === 'boolean';
      case 'array':
        return Array.isArray(value);
      case 'object':
        return value !== null && typeof value === 'object' && !Array.isArray(value);
      default:
        return true;
    }
  };
  return rng.pick(candidates.filter((value) => !ofType(value)));
}

/** Every UTF-8 byte of `text` percent-encoded (lone surrogates become U+FFFD, as on the wire). */
export function percentEncoded(text: string): string {
  return [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}
