/**
 * Reads each configuration source (config file, HERALD_* environment variables, command-line flags)
 * into validated values with the file's key names, remembering how the source spells each key so an
 * error can name it the way the operator wrote it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from './config-error.ts';
import {
  SCALAR_KEYS,
  SCALAR_NAMES,
  fileSchema,
  fromString,
  namespaceInputSchema,
  scalarsSchema,
  type NamespaceInput,
  type ScalarKey,
  type ScalarValues,
} from './schema.ts';

export const ENV_SOURCE = 'environment';
export const FLAG_SOURCE = 'command line';
export const DEFAULT_CONFIG_FILE = 'herald.config.json';

/** The values one source gives, already validated and converted (durations in ms, sizes in bytes). */
export interface Layer {
  /** `environment`, `command line`, or the config file's path as given. */
  readonly source: string;
  readonly values: ScalarValues;
  /** The key as this source spells it: `HERALD_PORT`, `--port` or `port`. */
  spell(key: ScalarKey): string;
  readonly namespaceDefaults?: NamespaceInput | undefined;
  readonly namespaces?: Readonly<Record<string, NamespaceInput>> | undefined;
}

type Raw = Record<string, unknown>;

export function readEnvLayer(env: NodeJS.ProcessEnv): Layer {
  const raw: Raw = {};
  for (const key of SCALAR_KEYS) {
    const { env: name, kind } = SCALAR_NAMES[key];
    const value = env[name];
    // An empty variable counts as unset, as `HERALD_X=` in compose files and shells usually means.
    if (value !== undefined && value !== '') raw[key] = fromString(kind, value);
  }
  const spell = (key: ScalarKey): string => SCALAR_NAMES[key].env;
  return { source: ENV_SOURCE, values: parseScalars(raw, ENV_SOURCE, spell), spell };
}

/** Flags arrive as commander's option object: camelCased flag names with string values. */
export function readFlagLayer(flags: Record<string, unknown>): Layer {
  const raw: Raw = {};
  for (const key of SCALAR_KEYS) {
    const { flag, kind } = SCALAR_NAMES[key];
    const value = flags[camelCase(flag)];
    if (value === undefined) continue;
    raw[key] = typeof value === 'string' ? fromString(kind, value) : value;
  }
  const spell = (key: ScalarKey): string => `--${SCALAR_NAMES[key].flag}`;
  return { source: FLAG_SOURCE, values: parseScalars(raw, FLAG_SOURCE, spell), spell };
}

function parseScalars(raw: Raw, source: string, spell: (key: ScalarKey) => string): ScalarValues {
  const result = scalarsSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = firstIssue(result.error);
  // Only keys of SCALAR_KEYS are ever put in `raw`, so path[0] is one of them.
  throw new ConfigError(spell(issue.path[0] as ScalarKey), source, issueMessage(issue));
}

/** Where the config file is, if there is one to read. */
interface FileLocation {
  readonly path: string;
  /** The path as the operator gave it, used to name the source in errors. */
  readonly label: string;
  /** Who asked for it, when someone did: then the file must exist. */
  readonly requestedBy?: { readonly key: string; readonly source: string };
}

export function locateConfigFile(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  cwd: string,
): FileLocation | undefined {
  const flag = flags['config'];
  if (typeof flag === 'string' && flag !== '') {
    return { path: resolve(cwd, flag), label: flag, requestedBy: { key: '--config', source: FLAG_SOURCE } };
  }
  const variable = env['HERALD_CONFIG'];
  if (variable !== undefined && variable !== '') {
    return {
      path: resolve(cwd, variable),
      label: variable,
      requestedBy: { key: 'HERALD_CONFIG', source: ENV_SOURCE },
    };
  }
  const path = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(path) ? { path, label: DEFAULT_CONFIG_FILE } : undefined;
}

export function readFileLayer(location: FileLocation): Layer {
  const parsed = fileSchema.safeParse(readJson(location));
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    throw new ConfigError(issueKey(issue), location.label, issueMessage(issue));
  }
  const { namespaceDefaults, namespaces, ...values } = parsed.data;
  return { source: location.label, values, spell: (key) => key, namespaceDefaults, namespaces };
}

function readJson(location: FileLocation): unknown {
  let text: string;
  try {
    text = readFileSync(location.path, 'utf8');
  } catch (err) {
    const by = location.requestedBy ?? { key: location.label, source: 'config file' };
    const reason = isNotFound(err)
      ? `file not found: ${location.path}`
      : `cannot read ${location.path}: ${String(err)}`;
    throw new ConfigError(by.key, by.source, reason, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(location.label, 'config file', `not valid JSON: ${reason}`, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'ENOENT';
}

function firstIssue(error: z.ZodError): z.core.$ZodIssue {
  const issue = error.issues[0];
  if (issue === undefined) throw new Error('zod reported a failure without issues');
  return issue;
}

/** `namespaces.chat.historySize`, `allowedOrigins[2]`, `namespaces["a:b"]`. */
function issueKey(issue: z.core.$ZodIssue): string {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  let key = '';
  for (const segment of path) {
    if (typeof segment === 'number') key += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$]*$/.test(segment))
      key += key === '' ? segment : `.${segment}`;
    else key += `[${JSON.stringify(String(segment))}]`;
  }
  return key === '' ? '(top level)' : key;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys[0] ?? '';
    const suggestion = suggestKey(unknown, issue.path.length === 0 ? TOP_LEVEL_KEYS : NAMESPACE_KEYS);
    return `unknown key${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`;
  }
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
  return issue.message;
}

const TOP_LEVEL_KEYS: readonly string[] = Object.keys(fileSchema.shape);
const NAMESPACE_KEYS: readonly string[] = Object.keys(namespaceInputSchema.shape);

/** The known key closest to a misspelt one: same letters ignoring case and a `Ms`/`Bytes` suffix, or 2 edits away. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const normalize = (key: string): string =>
    key.toLowerCase().replace(/(ms|bytes|size|buffer|perconnection)$/, '');
  const target = normalize(unknown);
  const same = known.find((key) => normalize(key) === target);
  if (same !== undefined) return same;
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(unknown.toLowerCase(), key.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
