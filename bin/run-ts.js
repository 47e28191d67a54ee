#!/usr/bin/env node
// Runs a TypeScript script (benchmarks, load scripts) with the same loader as the `herald` command.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const script = process.argv[2];
if (!script) {
  console.error('usage: run-ts.js <script.ts> [args...]');
  process.exit(2);
}
process.argv.splice(1, 1);
register();
await import(pathToFileURL(resolve(script)).href);
