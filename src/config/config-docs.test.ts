/** Keeps docs/configuration.md and docs/cli.md true to the schema: every key, variable and flag is documented. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCALAR_NAMES, namespaceInputSchema } from './schema.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('docs/configuration.md', () => {
  const doc = read('docs/configuration.md');

  it.each(Object.entries(SCALAR_NAMES))('has a row for %s with its variable and flag', (key, names) => {
    const row = `^\\|\\s*\`${key}\`\\s*\\|\\s*\`${names.env}\`\\s*\\|\\s*\`--${escape(names.flag)}\`\\s*\\|`;
    expect(doc).toMatch(new RegExp(row, 'm'));
  });

  it.each(Object.keys(namespaceInputSchema.shape))('documents the namespace option %s', (key) => {
    expect(doc).toMatch(new RegExp(`^\\|\\s*\`${key}\`\\s*\\|`, 'm'));
  });
});

describe('docs/cli.md', () => {
  const doc = read('docs/cli.md');

  it.each(Object.values(SCALAR_NAMES))('lists serve flag --$flag with $env', ({ flag, env }) => {
    expect(doc).toMatch(
      new RegExp(`^\\|\\s*\`--${escape(flag)} <[a-z]+>\`\\s*\\|\\s*\`${env}\`\\s*\\|`, 'm'),
    );
  });
});
