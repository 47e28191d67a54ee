/**
 * Builds the SDK's browser bundles into packages/client/dist (run by `npm install` through the root
 * `prepare` script, and before the browser tests):
 *   herald-client.js       ESM, minified: `import { Herald } from './herald-client.js'`
 *   herald-client.iife.js  a classic script defining the global `HeraldClient`
 *   types/                 type declarations (`types/client/index.d.ts`), the protocol's included
 * Prints each bundle's size minified and gzipped.
 */
import { build, type BuildOptions } from 'esbuild';
import ts from 'typescript';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  emitDeclarations();
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

/**
 * Declarations for the client and the protocol types it uses, with imports rewritten for consumers:
 * `./x.ts` → `./x.js`, and `@herald/protocol` → the protocol's declarations beside them, so that the
 * package needs no other package for its types either.
 */
function emitDeclarations(): void {
  const packages = resolve(here, '..');
  const outDir = `${here}dist/types`;
  rmSync(outDir, { recursive: true, force: true });
  const program = ts.createProgram([`${here}src/index.ts`, `${packages}/protocol/src/index.ts`], {
    declaration: true,
    emitDeclarationOnly: true,
    outDir,
    rootDir: packages,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    strict: true,
    exactOptionalPropertyTypes: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
  if (diagnostics.length > 0) {
    const host = {
      getCanonicalFileName: (f: string) => f,
      getCurrentDirectory: () => packages,
      getNewLine: () => '\n',
    };
    throw new Error(`type declarations failed:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  for (const dir of ['client/src', 'protocol/src']) {
    for (const file of readdirSync(`${outDir}/${dir}`)) {
      const path = `${outDir}/${dir}/${file}`;
      const text = readFileSync(path, 'utf8')
        .replace(/from '(\.\/[^']+)\.ts'/g, "from '$1.js'")
        .replace(/from '@herald\/protocol'/g, "from '../../protocol/src/index.js'");
      writeFileSync(path, text);
    }
  }
}

const script = process.argv[1];
if (script !== undefined && resolve(script) === fileURLToPath(import.meta.url)) await buildClient();
