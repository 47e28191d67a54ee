/**
 * Turns every failure under /api (and, as server.ts installs it, everywhere else) into one body,
 * `{"error": {"code", "wireCode", "message"}}`, with the HTTP status of the error catalogue
 * (core/errors.ts). Bad input is always a 4xx: fastify's own client errors (body too large,
 * unsupported content type, ...) are mapped to Herald codes, and anything unexpected becomes
 * HERALD_ERR_INTERNAL with its details logged, never sent.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { NO_METRICS, type NodeMetrics } from '../node/node-metrics.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError } from '../core/errors.ts';
import { BODY_LIMIT_BYTES } from './schemas.ts';

export interface ErrorBody {
  readonly error: { readonly code: string; readonly wireCode: number; readonly message: string };
}

export function errorBody(error: HeraldError): ErrorBody {
  return { error: { code: error.code, wireCode: error.wireCode, message: error.message } };
}

/** Installs the error and not-found handlers on the /api scope. */
export function installErrorHandling(api: FastifyInstance, metrics: NodeMetrics = NO_METRICS): void {
  api.setErrorHandler((err: unknown, request, reply) => {
    const error = toApiError(err, request.routeOptions.bodyLimit);
    metrics.countError(error.code, 'api');
    return sendError(request, reply, error);
  });
  api.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new HeraldError('HERALD_ERR_NOT_FOUND', `no route ${request.method} ${routePath(request)}`),
    ),
  );
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: HeraldError): FastifyReply {
  if (error.code === 'HERALD_ERR_INTERNAL') {
    request.log.error(
      { err: error.cause ?? error, method: request.method, url: request.url },
      'server API failure',
    );
  } else if (error.httpStatus >= 500) {
    request.log.warn({ code: error.code, url: request.url }, error.message);
  }
  if (error.code === 'HERALD_ERR_INVALID_API_KEY') reply.header('www-authenticate', 'apikey');
  return reply.code(error.httpStatus).send(errorBody(error));
}

/**
 * Maps anything thrown while serving an API request to the HeraldError to answer with; `bodyLimit` is
 * the route's body limit, named when the body is too large.
 */
export function toApiError(err: unknown, bodyLimit: number = BODY_LIMIT_BYTES): HeraldError {
  if (err instanceof HeraldError) return err;
  const code = fastifyCode(err);
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HeraldError(
        'HERALD_ERR_PAYLOAD_TOO_LARGE',
        `the request body is larger than ${bodyLimit} bytes`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HeraldError('HERALD_ERR_BAD_REQUEST', 'unsupported content type: send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HeraldError('HERALD_ERR_INVALID_JSON', 'the request body is not valid JSON');
  }
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500 && err instanceof Error) {
    // fastify's other client errors (content-length mismatch, aborted body, ...) carry fixed messages.
    return new HeraldError('HERALD_ERR_BAD_REQUEST', err.message, { cause: err });
  }
  return new HeraldError('HERALD_ERR_INTERNAL', 'internal server error', { cause: err });
}

/**
 * fastify's `clientErrorHandler`: a request Node's HTTP server refuses never reaches a route, and is
 * answered here with the same error body, then its connection is closed: headers over Node's limit
 * (16 KiB) with 431, headers or body too slow to arrive with 408, anything malformed with 400.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer (what fastify's own handler does too).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeraldError('HERALD_ERR_HEADERS_TOO_LARGE', 'the request headers are larger than 16 KiB')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new HeraldError('HERALD_ERR_REQUEST_TIMEOUT', 'the request took too long to arrive')
        : new HeraldError('HERALD_ERR_BAD_REQUEST', 'malformed HTTP request');
  const body = JSON.stringify(errorBody(error));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${error.httpStatus} ${STATUS_CODES[error.httpStatus] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** fastify's `frameworkErrors`: a URL that cannot be decoded (`/api/%zz`) is a bad request. */
export function answerFrameworkError(err: Error, reply: FastifyReply): void {
  void reply.code(400).send(errorBody(new HeraldError('HERALD_ERR_BAD_REQUEST', err.message)));
}

function fastifyCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return undefined;
  return typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

function routePath(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}
