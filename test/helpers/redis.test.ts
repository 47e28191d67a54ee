import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createCluster } from 'redis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isAlive } from './cli.ts';
import { freePort, isPortFree, releasePort } from './free-port.ts';
import {
  RedisReplyError,
  checkRedisVersion,
  keySlot,
  migrateSlot,
  redisCommand,
  startRedis,
  startRedisCluster,
  uniquePrefix,
  type RedisCluster,
  type RedisServer,
} from './redis.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function standalone(options?: Parameters<typeof startRedis>[0]): Promise<RedisServer> {
  const server = await startRedis(options);
  cleanups.push(() => server.stop());
  return server;
}

async function waitForDeath(pid: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('startRedis', () => {
  it('starts an empty, non-persistent server on a free loopback port that answers PING', async () => {
    const server = await standalone();
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).not.toBe(6379);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(await redisCommand(server.port, 'PING')).toBe('PONG');
    expect(await server.command('CONFIG', 'GET', 'bind')).toBe('bind\n127.0.0.1');
    expect(await server.command('CONFIG', 'GET', 'save')).toBe('save\n');
    expect(await server.command('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nno');
    expect(await server.command('DBSIZE')).toBe('0');
  });

  it('formats replies like redis-cli --raw and rejects on error replies', async () => {
    const server = await standalone();
    const key = `${uniquePrefix()}list`;
    expect(await redisCommand(server.port, 'RPUSH', key, 'a', 'b')).toBe('2');
    expect(await redisCommand(server.port, 'LRANGE', key, '0', '-1')).toBe('a\nb');
    expect(await redisCommand(server.port, 'GET', `${key}:missing`)).toBe('');
    await expect(redisCommand(server.port, 'GET', key)).rejects.toThrow(RedisReplyError);
    await expect(redisCommand(server.port, 'DEBUG', 'SLEEP', '0')).resolves.toBe('OK');
  });

  it('restart() comes back on the same port', async () => {
    const server = await standalone();
    const { port } = server;
    const firstPid = server.pid;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(firstPid);
    expect(await redisCommand(port, 'PING')).toBe('PONG');
  });

  it('with appendonly, a key survives kill() + restart()', async () => {
    const server = await standalone({ appendonly: true });
    const key = `${uniquePrefix()}durable`;
    await server.command('SET', key, 'kept');
    const pid = server.pid ?? 0;
    await server.kill();
    expect(isAlive(pid)).toBe(false);
    expect(server.pid).toBeUndefined();
    await expect(redisCommand(server.port, 'PING')).rejects.toThrow();
    await server.restart();
    expect(await server.command('GET', key)).toBe('kept');
  });

  it('with a password, rejects unauthenticated commands and puts it in the url', async () => {
    const server = await standalone({ password: 's3cret/pw' });
    expect(server.url).toBe(`redis://:s3cret%2Fpw@127.0.0.1:${server.port}`);
    expect(await server.command('PING')).toBe('PONG');
    await expect(redisCommand(server.port, 'PING')).rejects.toThrow(/NOAUTH/);
  });

  it('stop() ends the process, removes the directory and frees the port', async () => {
    const server = await startRedis();
    const pid = server.pid ?? 0;
    expect(isAlive(pid)).toBe(true);
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
    expect(await isPortFree(server.port)).toBe(true);
    await server.stop(); // idempotent
    await expect(server.restart()).rejects.toThrow(/stopped/);
  });

  it('a server outlives no test process, even one ended by SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-redis-test-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const helper = fileURLToPath(new URL('./redis.ts', import.meta.url));
    const script = join(dir, 'orphan.mts');
    writeFileSync(
      script,
      `import { startRedis } from ${JSON.stringify(helper)};\n` +
        'const server = await startRedis();\n' +
        'console.log(`${server.pid} ${server.dir}`);\n' +
        'setInterval(() => undefined, 1000);\n',
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    const first = once(createInterface({ input: child.stdout }), 'line') as Promise<[string]>;
    const [line] = await Promise.race([first, exited.then(() => Promise.reject(new Error('child exited')))]);
    const [pidText = '', serverDir = ''] = line.split(' ');
    const pid = Number(pidText);
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGTERM'); // no exit handlers run: only the watchdog can clean up
    await exited;
    await waitForDeath(pid);
    await vi.waitFor(() => expect(existsSync(serverDir)).toBe(false));
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('forms a 3-master cluster with every slot served, usable by node-redis', async () => {
    cluster = await startRedisCluster();
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.seeds).toEqual(cluster.nodes.map((node) => `127.0.0.1:${node.port}`));
    for (const node of cluster.nodes) {
      const info = await redisCommand(node.port, 'CLUSTER', 'INFO');
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_ok:16384');
      expect(info).toContain('cluster_known_nodes:3');
    }
    const key = `${uniquePrefix()}{room}`;
    const master = await cluster.masterFor(key);
    expect(await redisCommand(master.port, 'CLUSTER', 'KEYSLOT', key)).toBe(String(keySlot(key)));
    expect(await master.command('SET', key, 'here')).toBe('OK'); // no MOVED: masterFor is right

    const client = createCluster({ rootNodes: cluster.seeds.map((seed) => ({ url: `redis://${seed}` })) });
    await client.connect();
    try {
      expect(await client.get(key)).toBe('here');
    } finally {
      client.destroy();
    }

    const pids = cluster.nodes.map((node) => node.pid ?? 0);
    await cluster.stop();
    cluster = undefined;
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('adds replicas, in sync with their masters', async () => {
    cluster = await startRedisCluster({ masters: 2, replicasPerMaster: 1 });
    const [m0, m1, r0, r1] = cluster.nodes;
    const role = async (node: RedisServer | undefined) =>
      (await node?.command('ROLE'))?.split('\n').slice(0, 3) ?? [];
    expect(await role(m0)).toContain('master');
    expect(await role(m1)).toContain('master');
    expect(await role(r0)).toEqual(['slave', '127.0.0.1', String(m0?.port)]);
    expect(await role(r1)).toEqual(['slave', '127.0.0.1', String(m1?.port)]);
  });
});

describe('migrateSlot', () => {
  let cluster: RedisCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('moves a slot and its keys to another master, and every node and node-redis follow', async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 1 });
    const prefix = uniquePrefix();
    const tag = `{${prefix}moving}`;
    const slot = keySlot(tag);
    const source = await cluster.masterFor(slot);
    const target = cluster.nodes.slice(0, 3).find((node) => node !== source) as RedisServer;
    // More keys than one MIGRATE batch, of several types, one with an expiry.
    const keys = Array.from({ length: 250 }, (_, i) => `${tag}:${i}`);
    for (const key of keys) await source.command('SET', key, `v-${key}`);
    await source.command('XADD', `${tag}:stream`, '1-0', 'p', 'one');
    await source.command('SET', `${tag}:ttl`, 'soon', 'PX', '600000');

    const client = createCluster({ rootNodes: cluster.seeds.map((seed) => ({ url: `redis://${seed}` })) });
    await client.connect();
    try {
      const messages: string[] = [];
      await client.sSubscribe(`${tag}:pubsub`, (message) => messages.push(message));
      expect(await client.get(`${tag}:0`)).toBe(`v-${tag}:0`); // node-redis learnt the old owner

      await migrateSlot(cluster, slot, target, { batch: 100 });

      expect(await cluster.masterFor(slot)).toBe(target);
      for (const node of cluster.nodes) {
        const slots = await redisCommand(node.port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)).catch(
          () => '',
        );
        if (node === source) expect(slots).toBe('0');
        if (node === target) expect(slots).toBe(String(keys.length + 2));
      }
      expect(await target.command('GET', `${tag}:249`)).toBe(`v-${tag}:249`);
      expect(await target.command('XRANGE', `${tag}:stream`, '-', '+')).toBe('1-0\np\none');
      expect(Number(await target.command('PTTL', `${tag}:ttl`))).toBeGreaterThan(500_000);
      await expect(source.command('GET', `${tag}:0`)).rejects.toThrow(
        `MOVED ${slot} 127.0.0.1:${target.port}`,
      );
      // The cluster is healthy, and its replicas follow the new owner too.
      for (const node of cluster.nodes)
        expect(await node.command('CLUSTER', 'INFO')).toContain('cluster_state:ok');

      // node-redis follows the MOVED, and moves its sharded subscription when the source unsubscribes it.
      expect(await client.get(`${tag}:1`)).toBe(`v-${tag}:1`);
      await vi.waitFor(
        async () => {
          await client.sPublish(`${tag}:pubsub`, 'after');
          expect(messages).toContain('after');
        },
        { timeout: 5_000, interval: 100 },
      );
    } finally {
      client.destroy();
    }
  });

  it('does nothing when the target serves the slot already, and refuses a target that is not a master', async () => {
    cluster = await startRedisCluster({ masters: 2, replicasPerMaster: 1 });
    const slot = keySlot(`{${uniquePrefix()}x}`);
    const owner = await cluster.masterFor(slot);
    await migrateSlot(cluster, slot, owner);
    expect(await cluster.masterFor(slot)).toBe(owner);
    const replica = cluster.nodes[2] as RedisServer;
    await expect(migrateSlot(cluster, slot, replica)).rejects.toThrow(/not a master/);
    await expect(migrateSlot(cluster, 16_384, owner)).rejects.toThrow(RangeError);
  });
});

describe('helpers', () => {
  it('uniquePrefix() never repeats', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniquePrefix()));
    expect(prefixes.size).toBe(1000);
    for (const prefix of prefixes) expect(prefix).toMatch(/^t\d+-\d+-[a-z0-9]+:$/);
  });

  it('keySlot() follows the Cluster spec, hash tags included', () => {
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('{}x')).not.toBe(keySlot('x'));
  });

  it('checkRedisVersion() needs Redis 7 and names the package to install', () => {
    expect(checkRedisVersion('Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0')).toBe('7.0.15');
    expect(() => checkRedisVersion('Redis server v=6.2.14 sha=0')).toThrow(/apt-get install redis-server/);
  });

  it('freePort() hands out distinct ports, with a free bus port when asked', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort({ withBusPort: true })));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(await isPortFree(port + 10_000)).toBe(true);
      releasePort(port);
    }
  });
});
