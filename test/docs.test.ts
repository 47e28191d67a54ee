/** Keeps the documentation true: every code the server can send is documented. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DisconnectCode, ErrorCode } from '@herald/protocol';
import { ERRORS } from '../src/core/errors.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('docs/protocol.md', () => {
  const protocol = read('docs/protocol.md');

  it.each(Object.entries(ERRORS))('documents %s with its wire code', (name, spec) => {
    expect(protocol).toMatch(new RegExp(`\\|\\s*${spec.wire}\\s*\\|\\s*\`${name}\`\\s*\\|`));
  });

  it.each(Object.entries(DisconnectCode))('documents disconnect code %s (%i)', (_name, code) => {
    expect(protocol).toMatch(new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm'));
  });

  it('has a catalogue entry for every wire error code', () => {
    const wires = Object.values(ERRORS).map((spec) => spec.wire as number);
    expect([...wires].sort()).toEqual(Object.values(ErrorCode).sort());
  });
});

describe('docs/api.md', () => {
  it.each(Object.keys(ERRORS))('lists %s', (name) => {
    expect(read('docs/api.md')).toContain(name);
  });
});
