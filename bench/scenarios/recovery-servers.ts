/**
 * The servers the `recovery` scenario compares, seen the same way: where clients connect, how the
 * scenario publishes what they will miss, and the CPU the server processes use. Herald is started by
 * `lib/systems.ts` (memory engine, or Redis holding the history); Socket.IO is its recovery peer
 * (`peers/socketio-recovery-server.ts`, connection state recovery on, one node, in-memory adapter).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, releasePort } from '../../test/helpers/free-port.ts';
import type { RecoveryProtocol } from '../load/recovery-process.ts';
import { HeraldProcess, processCpuSeconds, REPO_ROOT } from '../lib/processes.ts';
import { startSystem, type Broker } from '../lib/systems.ts';

/** What a run compares: a system and where it keeps what clients missed. */
export interface Target {
  readonly system: 'herald' | 'socket.io';
  readonly broker: Broker;
}

export interface RecoveryServer {
  readonly protocol: RecoveryProtocol;
  /** Base WebSocket URL. */
  readonly url: string;
  /** Herald: a connection token. */
  readonly token: string;
  channel(name: string): string;
  /** Publishes `items` in order (those of one channel keep their order); throws if any fails. */
  publish(items: readonly PublishItem[]): Promise<void>;
  /** CPU seconds used so far by the server processes (and Redis), together. */
  cpuSeconds(): number;
  readonly versions: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface PublishItem {
  readonly channel: string;
  /** JSON text. */
  readonly data: string;
}

/** Publications per HTTP request: Herald's batch limit. */
const BATCH = 1000;

export async function startServer(target: Target): Promise<RecoveryServer> {
  return target.system === 'herald' ? startHerald(target.broker) : startSocketIo();
}

async function startHerald(broker: Broker): Promise<RecoveryServer> {
  const system = await startSystem('herald', { nodes: 1, broker });
  const base = system.nodeUrls[0] ?? '';
  const headers = { 'content-type': 'application/json', authorization: `apikey ${system.apiKey}` };
  return {
    protocol: 'herald',
    url: base.replace(/^http/, 'ws'),
    token: system.token,
    channel: (name) => system.channel(name),
    publish: (items) => publishToHerald(base, headers, items),
    cpuSeconds: () => Object.values(system.cpu()).reduce<number>((sum, seconds) => sum + (seconds ?? 0), 0),
    versions: system.versions,
    stop: () => system.stop(),
  };
}

async function publishToHerald(
  base: string,
  headers: Record<string, string>,
  items: readonly PublishItem[],
): Promise<void> {
  for (let at = 0; at < items.length; at += BATCH) {
    const chunk = items.slice(at, at + BATCH);
    const body = `{"publications":[${chunk.map(itemJson).join(',')}]}`;
    const response = await fetch(`${base}/api/publish/batch`, { method: 'POST', headers, body });
    const text = await response.text();
    if (response.status === 404) return publishOneByOne(base, headers, items.slice(at));
    if (!response.ok || text.includes('"error"'))
      throw new Error(`batch publish failed: ${response.status} ${text.slice(0, 300)}`);
  }
}

/** Without the batch endpoint: one request per publication, each channel's in order, channels in parallel. */
async function publishOneByOne(
  base: string,
  headers: Record<string, string>,
  items: readonly PublishItem[],
): Promise<void> {
  const byChannel = new Map<string, PublishItem[]>();
  for (const item of items) {
    const list = byChannel.get(item.channel);
    if (list === undefined) byChannel.set(item.channel, [item]);
    else list.push(item);
  }
  await Promise.all(
    [...byChannel.values()].map(async (list) => {
      for (const item of list) {
        const response = await fetch(`${base}/api/publish`, {
          method: 'POST',
          headers,
          body: itemJson(item),
        });
        const text = await response.text();
        if (!response.ok) throw new Error(`publish failed: ${response.status} ${text.slice(0, 300)}`);
      }
    }),
  );
}

function itemJson(item: PublishItem): string {
  return `{"channel":${JSON.stringify(item.channel)},"data":${item.data}}`;
}

async function startSocketIo(): Promise<RecoveryServer> {
  const port = await freePort();
  let node: HeraldProcess;
  try {
    node = await HeraldProcess.start({
      name: 'socket.io-recovery',
      port,
      env: {},
      args: ['bin/run-ts.js', 'bench/peers/socketio-recovery-server.ts'],
    });
  } catch (error) {
    releasePort(port);
    throw error;
  }
  const headers = { 'content-type': 'application/json' };
  return {
    protocol: 'socketio',
    url: node.url.replace(/^http/, 'ws'),
    token: '',
    channel: (name) => name,
    async publish(items) {
      for (let at = 0; at < items.length; at += BATCH) {
        const body = `{"publications":[${items
          .slice(at, at + BATCH)
          .map(itemJson)
          .join(',')}]}`;
        const response = await fetch(`${node.url}/publish`, { method: 'POST', headers, body });
        const text = await response.text();
        if (!response.ok) throw new Error(`publish failed: ${response.status} ${text.slice(0, 300)}`);
      }
    },
    cpuSeconds: () => processCpuSeconds(node.pid) ?? 0,
    versions: { 'socket.io': packageVersion('socket.io') },
    async stop() {
      await node.stop();
      releasePort(port);
    },
  };
}

function packageVersion(name: string): string {
  const file = join(REPO_ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
