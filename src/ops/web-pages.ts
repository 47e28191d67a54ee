/**
 * The pages Herald serves to people: the dashboard at `/` and the chat demo at `/demo` (web/, built by
 * `npm run build:web` into web/dist), or, when the dashboard is off, the welcome page (web/index.html),
 * which says how to turn it on. Assets have content-hashed names, so they are cached for good; the
 * pages themselves are revalidated on every load, so a new build shows at once.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const WEB = new URL('../../web/', import.meta.url);
const DIST = new URL('dist/', WEB);
const ASSETS = new URL('assets/', DIST);
/** Names esbuild gives assets: `dashboard-3KXQ2ZPA.js`, `chunk-6KRMTXLJ.js`, `demo-XAK2SOJH.css`. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css)$/;
const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
/** Hashed names never change content: a year, and browsers need not even revalidate. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';
/** Headers of every page: no framing by other sites (clickjacking an admin page), no guessing of types. */
const PAGE_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy': "frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export interface WebPagesOptions {
  /** Serve the dashboard and the demo (config `dashboard`); when false, `/` is the welcome page. */
  readonly dashboardEnabled: boolean;
}

export async function registerWebPages(
  app: FastifyInstance,
  { dashboardEnabled }: WebPagesOptions,
): Promise<void> {
  const hidden = { schema: { hide: true } };
  if (!dashboardEnabled) {
    const welcome = await readFile(new URL('index.html', WEB), 'utf8');
    app.get('/', hidden, async (_request, reply) => sendPage(reply, 200, welcome));
    // The demo signs in through the dashboard's session: off with it.
    app.get('/demo', hidden, async (_request, reply) => sendPage(reply, 404, welcome));
    return;
  }
  app.get('/', hidden, async (_request, reply) => sendBuiltPage(reply, 'dashboard.html'));
  app.get('/demo', hidden, async (_request, reply) => sendBuiltPage(reply, 'demo.html'));
  const assets = new AssetCache();
  app.get<{ Params: { file: string } }>('/dashboard/assets/:file', hidden, async (request, reply) => {
    const asset = await assets.get(request.params.file);
    if (asset === undefined) {
      return reply.code(404).type('text/plain; charset=utf-8').send('no such asset');
    }
    void reply
      .type(asset.type)
      .header('cache-control', ASSET_CACHE)
      .header('vary', 'accept-encoding')
      .header('x-content-type-options', 'nosniff');
    if (asset.gzipped !== undefined && acceptsGzip(request)) {
      return reply.header('content-encoding', 'gzip').send(asset.gzipped);
    }
    return reply.send(asset.body);
  });
}

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
}

/** A page of web/dist, read at each request (it is small), so a rebuild needs no restart. */
async function sendBuiltPage(reply: FastifyReply, file: string): Promise<FastifyReply> {
  let html: string;
  try {
    html = await readFile(new URL(file, DIST), 'utf8');
  } catch {
    return sendPage(
      reply,
      503,
      '<!doctype html><meta charset="utf-8"><title>Herald</title>' +
        '<p>The dashboard is not built: run <code>npm run build:web</code> (<code>npm install</code> does).</p>',
    );
  }
  return sendPage(reply, 200, html);
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** The `.gz` the build wrote beside it, if any. */
  readonly gzipped: Buffer | undefined;
}

/** Assets read once each: their names change with their content, so a cached one is never stale. */
class AssetCache {
  readonly #assets = new Map<string, Promise<Asset | undefined>>();

  get(name: string): Promise<Asset | undefined> {
    const extension = ASSET_NAME.exec(name)?.[1];
    if (extension === undefined) return Promise.resolve(undefined);
    let asset = this.#assets.get(name);
    if (asset === undefined) {
      asset = load(name, extension);
      this.#assets.set(name, asset);
      // A miss is not remembered: the file may appear with the next build.
      void asset.then((found) => found === undefined && this.#assets.delete(name));
    }
    return asset;
  }
}

async function load(name: string, extension: string): Promise<Asset | undefined> {
  try {
    const body = await readFile(new URL(name, ASSETS));
    const gzipped = await readFile(new URL(`${name}.gz`, ASSETS)).catch(() => undefined);
    return { type: CONTENT_TYPES[extension] ?? 'application/octet-stream', body, gzipped };
  } catch {
    return undefined;
  }
}

/** Whether `Accept-Encoding` allows gzip (`gzip`, or `*`, with no `q=0`). */
function acceptsGzip(request: FastifyRequest): boolean {
  const header = request.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  for (const part of header.split(',')) {
    const [coding = '', ...parameters] = part.split(';').map((text) => text.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== '*') continue;
    const quality = parameters.find((parameter) => parameter.startsWith('q='));
    return quality === undefined || Number(quality.slice(2)) > 0;
  }
  return false;
}
