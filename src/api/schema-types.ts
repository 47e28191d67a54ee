/**
 * Derives TypeScript types from the JSON schemas the routes declare, so a handler's view of its input
 * is exactly what the validator let through: the schema is the single source of truth for both.
 * Covers the subset of JSON Schema the API uses (object, array, string, integer, number, boolean,
 * and `{}` for any JSON value); a keyword it does not know is ignored, which only widens the type.
 */
import type { JsonValue } from '@herald/protocol';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<S> = S extends { readonly required: readonly (infer K)[] } ? K : never;

type ObjectFrom<P, R> = Simplify<
  { -readonly [K in keyof P & R]: FromSchema<P[K]> } & {
    -readonly [K in Exclude<keyof P, R>]?: FromSchema<P[K]>;
  }
>;

/** The type of a value that validates against the JSON schema `S` (written `as const`). */
export type FromSchema<S> = S extends { readonly type: 'string' }
  ? string
  : S extends { readonly type: 'integer' | 'number' }
    ? number
    : S extends { readonly type: 'boolean' }
      ? boolean
      : S extends { readonly type: 'array'; readonly items: infer I }
        ? FromSchema<I>[]
        : S extends { readonly type: 'object'; readonly properties: infer P }
          ? ObjectFrom<P, RequiredKeys<S>>
          : JsonValue;
