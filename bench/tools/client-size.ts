/**
 * Sizes of client SDK browser bundles, Herald's against `socket.io-client` and `centrifuge`, all built
 * the same way: the package's whole public API bundled by esbuild for browsers, minified, then gzipped at
 * level 9.
 *
 *   node bin/run-ts.js bench/tools/client-size.ts
 */
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

const candidates = [
  {
    name: '@herald/client',
    dir: 'packages/client',
    entry: `export * from './packages/client/src/index.ts';`,
  },
  {
    name: 'socket.io-client',
    dir: 'node_modules/socket.io-client',
    entry: `export * from 'socket.io-client';`,
  },
  { name: 'centrifuge', dir: 'node_modules/centrifuge', entry: `export * from 'centrifuge';` },
];

function version(dir: string): string {
  return (JSON.parse(readFileSync(`${root}/${dir}/package.json`, 'utf8')) as { version: string }).version;
}

console.log('| Package | Minified | Minified + gzipped |\n| --- | ---: | ---: |');
for (const { name, dir, entry } of candidates) {
  const result = await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    legalComments: 'none',
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
  console.log(
    `| \`${name}\` ${version(dir)} | ${kb(code.length)} | ${kb(gzipSync(code, { level: 9 }).length)} |`,
  );
}
