/**
 * Request parsing and validation for the server API, scoped to /api.
 *
 * Fastify's default Ajv coerces body types (`{"channel": 42}` would become "42") and silently strips
 * unknown properties (`removeAdditional`), so a typo such as `idempotencykey` would be ignored rather
 * than reported. The API validates bodies strictly instead; query strings are coerced (they are text by
 * nature) but unknown parameters are still rejected.
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { HeraldError } from '../core/errors.ts';
import { BODY_LIMIT_BYTES } from './schemas.ts';

// `verbose` keeps each error's schema, which the messages below use to name fields.
const strict = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false, verbose: true });
const coercing = new Ajv({ coerceTypes: true, removeAdditional: false, allErrors: false, verbose: true });

/** Installs the API's JSON body parser, validators and validation messages on the /api scope. */
export function installValidation(api: FastifyInstance): void {
  api.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body'
      ? strict.compile(schema as AnySchema)
      : finiteOnly(coercing.compile(schema as AnySchema)),
  );
  api.setSchemaErrorFormatter(
    (errors, dataVar) => new HeraldError('HERALD_ERR_BAD_REQUEST', formatValidationErrors(errors, dataVar)),
  );

  // Only JSON is accepted; any other content type gets fastify's "unsupported media type", reported
  // as HERALD_ERR_BAD_REQUEST by the error handler. JSON.parse (rather than fastify's prototype-
  // poisoning guard) keeps a publication's `data` exactly as sent, "__proto__" keys included: the API
  // only validates the parsed body and serialises `data` back to text, never merging it into objects.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_request, body: string, done) => {
      try {
        done(null, JSON.parse(body));
      } catch (err) {
        const reason = err instanceof SyntaxError ? `: ${err.message}` : '';
        done(
          new HeraldError('HERALD_ERR_INVALID_JSON', `the request body is not valid JSON${reason}`),
          undefined,
        );
      }
    },
  );
}

/**
 * Ajv coerces query text such as `1e999` or `Infinity` to Infinity for an `integer`, and then skips
 * `minimum` and `maximum`, which it checks on finite numbers only: `limit=Infinity` passed as valid.
 * Coerced values must therefore also be finite.
 */
function finiteOnly(validate: ValidateFunction): ValidateFunction {
  const check = ((data: unknown) => {
    if (!validate(data)) {
      check.errors = validate.errors ?? null;
      return false;
    }
    check.errors = null;
    for (const [key, value] of Object.entries(data ?? {})) {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        const error = { instancePath: `/${key}`, schemaPath: '', keyword: 'type', params: {} };
        check.errors = [{ ...error, message: 'must be a finite number' }];
        return false;
      }
    }
    return true;
  }) as ValidateFunction;
  return check;
}

/** One message naming the field at fault, e.g. "body/channel must be string". */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): string {
  const error = errors[0];
  if (error === undefined) return `${dataVar} is invalid`;
  const path = `${dataVar}${error.instancePath}`;
  const { params } = error;
  switch (error.keyword) {
    case 'required':
      return `${path}/${String(params['missingProperty'])} is required`;
    case 'additionalProperties':
      return `${path}/${String(params['additionalProperty'])} is not allowed`;
    case 'oneOf': {
      const names = alternativeNames(error);
      if (names !== undefined) return `${path} must have exactly one of ${names.join(', ')}`;
      break;
    }
  }
  return `${path} ${error.message ?? 'is invalid'}`;
}

/** For a `oneOf` of `{required: [name]}` alternatives, the names; otherwise undefined. */
function alternativeNames(error: FastifySchemaValidationError): string[] | undefined {
  const schema: unknown = 'schema' in error ? error.schema : undefined;
  if (!Array.isArray(schema)) return undefined;
  const names: string[] = [];
  for (const alternative of schema as unknown[]) {
    const required: unknown =
      typeof alternative === 'object' && alternative !== null && 'required' in alternative
        ? alternative.required
        : undefined;
    if (!Array.isArray(required) || required.length !== 1 || typeof required[0] !== 'string')
      return undefined;
    names.push(required[0]);
  }
  return names;
}
