/**
 * Builds the SDK's browser bundles into packages/client/dist (run by `npm install` through the root
 * `prepare` script, and before the browser tests):
 *   herald-client.js       ESM, minified: `import { Herald } from './herald-client.js'`
 *   herald-client.iife.js  a classic script defining the global `HeraldClient`
 * Prints each bundle's size minified and gzipped.
 */
import { build, type BuildOptions } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = new URL('.', import.meta.url).pathname;
const common: BuildOptions = {
  entryPoints: [`${here}src/index.ts`],
  bundle: true,
  minify: true,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
};

export interface BundleSize {
  readonly file: string;
  readonly minified: number;
  readonly gzipped: number;
}

export async function buildClient({ quiet = false } = {}): Promise<BundleSize[]> {
  const outputs: { format: 'esm' | 'iife'; outfile: string; globalName?: string }[] = [
    { format: 'esm', outfile: `${here}dist/herald-client.js` },
    { format: 'iife', globalName: 'HeraldClient', outfile: `${here}dist/herald-client.iife.js` },
  ];
  await Promise.all(outputs.map((output) => build({ ...common, ...output })));
  const sizes = outputs.map(({ outfile }) => {
    const code = readFileSync(outfile);
    return {
      file: outfile.slice(here.length),
      minified: code.length,
      gzipped: gzipSync(code, { level: 9 }).length,
    };
  });
  if (!quiet) {
    for (const { file, minified, gzipped } of sizes)
      console.log(`${file}: ${minified} bytes minified, ${gzipped} gzipped`);
  }
  return sizes;
}

const script = process.argv[1];
if (script !== undefined && resolve(script) === fileURLToPath(import.meta.url)) await buildClient();
