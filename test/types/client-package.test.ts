/**
 * The client package as its users get it: the bundle from `dist/` imported by Node.js, and a program
 * written against the bundled declarations typechecks — mistakes included, which must not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
import type * as ClientSource from '../../packages/client/src/index.ts';

const dist = fileURLToPath(new URL('../../packages/client/dist/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'herald-client-types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function diagnosticsOf(source: string): string[] {
  const file = join(dir, 'app.ts');
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const header = `import { Herald, ServerError, ErrorCode, type Publication } from '${dist}types/client/src/index.js';\n`;

it('typechecks a program written against the declarations', () => {
  expect(
    diagnosticsOf(
      header +
        `
const client = new Herald('ws://localhost:8080/connection/websocket', { getToken: async () => 'jwt' });
const room = client.newSubscription<{ text: string }>('chat:room');
room.on('publication', (p: Publication<{ text: string }>) => console.log(p.data.text.toUpperCase(), p.offset));
room.on('subscribed', ({ recovered, position }) => console.log(recovered, position?.epoch));
client.on('state', ({ newState }) => { const s: 'disconnected' | 'connecting' | 'connected' = newState; void s; });
room.publish({ text: 'hi' }).catch((err: unknown) => {
  if (err instanceof ServerError && err.code === ErrorCode.PERMISSION_DENIED) console.log('read only');
});
room.subscribe();
client.connect();
`,
    ),
  ).toEqual([]);
});

it('rejects mistakes: a wrong payload type, an unknown event, a bad option', () => {
  const problems = diagnosticsOf(
    header +
      `
const client = new Herald('ws://x', { timeout: 'soon' });
const room = client.newSubscription<{ text: string }>('chat:room');
room.publish({ txt: 'hi' });
room.on('message', () => undefined);
`,
  );
  expect(problems).toHaveLength(3);
});

it('loads the ESM bundle in Node.js', async () => {
  const bundle = (await import(`${dist}herald-client.js`)) as typeof ClientSource;
  expect(typeof bundle.Herald).toBe('function');
  expect(bundle.ErrorCode.PERMISSION_DENIED).toBe(103);
  expect(
    () => new bundle.Herald('ws://127.0.0.1:1/connection/websocket', { transports: ['websocket'] }),
  ).toThrow(bundle.StateError);
});
