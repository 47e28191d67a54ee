/**
 * Builds the dashboard (`/`) and the demo page (`/demo`) into web/dist (run by `npm install` through
 * the root `prepare` script, and by the tests' global setup):
 *   dashboard.html, demo.html   the pages, naming their assets
 *   assets/<name>-<hash>.js|css the bundles (ESM, minified, split so both pages share Preact and the
 *                               SDK), each with a `.gz` beside it; content-hashed, so they are cached
 *                               for good
 * Files are replaced atomically and old assets kept a while, so a build may run while servers (tests
 * running meanwhile) serve the previous one.
 * Nothing is loaded from elsewhere: no CDN, no web fonts. Prints the pages' sizes gzipped.
 */
import { build, type Metafile } from 'esbuild';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = `${here}dist`;

/** The pages: each has a script entry and a style entry. */
const PAGES = [
  { name: 'dashboard', title: 'Herald', script: 'src/dashboard/main.tsx', style: 'src/styles/dashboard.css' },
  { name: 'demo', title: 'Herald chat demo', script: 'src/demo/main.tsx', style: 'src/styles/demo.css' },
] as const;

export interface PageSize {
  readonly page: string;
  /** Bytes of JavaScript and CSS the page loads, minified and gzipped. */
  readonly gzipped: number;
  readonly minified: number;
}

export async function buildWeb({ quiet = false } = {}): Promise<PageSize[]> {
  const result = await build({
    absWorkingDir: here,
    entryPoints: PAGES.flatMap(({ name, script, style }) => [
      { in: script, out: name },
      { in: style, out: name },
    ]),
    outdir: `${dist}/assets`,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(`${dist}/assets`, { recursive: true });
  for (const { path, contents } of result.outputFiles) {
    writeAtomically(path, contents);
    writeAtomically(`${path}.gz`, gzipSync(contents, { level: 9 }));
  }
  const sizes = PAGES.map((page) => writePage(page, result.metafile));
  removeOldAssets(new Set(result.outputFiles.map(({ path }) => basename(path))));
  if (!quiet) {
    for (const { page, minified, gzipped } of sizes)
      console.log(`web/dist/${page}.html: loads ${minified} bytes minified, ${gzipped} gzipped`);
  }
  return sizes;
}

/** Writes a page's HTML and measures what it loads: its script, the chunks it imports, its CSS. */
function writePage(page: (typeof PAGES)[number], metafile: Metafile): PageSize {
  const outputs = Object.entries(metafile.outputs);
  const find = (entry: string) => {
    const found = outputs.find(([, output]) => output.entryPoint === entry);
    if (found === undefined) throw new Error(`esbuild wrote nothing for ${entry}`);
    return found[0];
  };
  const script = find(page.script);
  const style = find(page.style);
  const chunks = new Set<string>();
  const visit = (file: string) => {
    for (const { path, kind } of metafile.outputs[file]?.imports ?? []) {
      if (kind === 'import-statement' && !chunks.has(path)) {
        chunks.add(path);
        visit(path);
      }
    }
  };
  visit(script);
  const url = (file: string) => `/dashboard/assets/${basename(file)}`;
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="color-scheme" content="light dark" />
    <title>${page.title}</title>
    <link rel="icon" href="data:image/svg+xml,${encodeURIComponent(ICON)}" />
    <link rel="stylesheet" href="${url(style)}" />
${[...chunks].map((chunk) => `    <link rel="modulepreload" href="${url(chunk)}" />\n`).join('')}    <script type="module" src="${url(script)}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>Herald's ${page.name} needs JavaScript.</noscript>
  </body>
</html>
`;
  writeAtomically(`${dist}/${page.name}.html`, html);
  const files = [script, style, ...chunks].map((file) => readFileSync(resolve(here, file)));
  return {
    page: page.name,
    minified: files.reduce((sum, code) => sum + code.length, 0),
    gzipped: files.reduce((sum, code) => sum + gzipSync(code, { level: 9 }).length, 0),
  };
}

/**
 * Writes through a temporary file and a rename, and not at all when the content is the same: servers
 * (of tests running meanwhile, say) never read a half-written file.
 */
function writeAtomically(path: string, contents: Uint8Array | string): void {
  const data = typeof contents === 'string' ? Buffer.from(contents) : contents;
  if (existsSync(path) && readFileSync(path).equals(data)) return;
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

/** Assets of earlier builds go once they are an hour old: a page loaded before a rebuild still finds its own. */
function removeOldAssets(current: ReadonlySet<string>): void {
  const cutoff = Date.now() - 60 * 60_000;
  for (const file of readdirSync(`${dist}/assets`)) {
    const path = `${dist}/assets/${file}`;
    if (!current.has(file.replace(/\.gz$/, '')) && statSync(path).mtimeMs < cutoff)
      rmSync(path, { force: true });
  }
}

/** Herald's mark: a speech wave in a rounded square, drawn in the accent color. */
const ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#5b5bd6"/>' +
  '<path d="M9 20c2-6 4-6 6 0s4 6 6 0 2-6 2-6" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>';

const script = process.argv[1];
if (script !== undefined && resolve(script) === fileURLToPath(import.meta.url)) await buildWeb();
