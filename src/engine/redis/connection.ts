/**
 * The Redis connections of one node, standalone or Cluster, behind one small interface: run a script
 * by SHA (falling back to EVAL when Redis does not know it yet), and subscribe to pub/sub channels on
 * one subscriber connection per node (per shard in a Cluster, with sharded pub/sub).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createCluster, ErrorReply, type RedisClientType, type RedisClusterType } from 'redis';
import { withTimeout } from './errors.ts';

export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

export function redisScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export type PubsubListener = (message: string, pubsubChannel: string) => void;

export interface RedisConnection {
  /** True when commands can be sent and the subscriber connection is up. */
  readonly ready: boolean;
  /** Whether publications go through sharded pub/sub (Cluster). */
  readonly sharded: boolean;
  connect(): Promise<void>;
  run(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** Publishes a message that is not a channel's publication (control messages between nodes). */
  publish(pubsubChannel: string, message: string): Promise<void>;
  subscribe(pubsubChannel: string, listener: PubsubListener): Promise<void>;
  unsubscribe(pubsubChannel: string): Promise<void>;
  /** Called with every connection error (they are also retried by the reconnect strategy). */
  onError(listener: (err: Error) => void): void;
  /**
   * Called when a connection that was up before is up again. node-redis resubscribes by itself, but
   * what was published while the connection was down is gone from pub/sub.
   */
  onReconnected(listener: () => void): void;
  /**
   * Replaces the subscriber connection with a new one subscribed to the same channels, for a
   * connection that looks up but delivers nothing (a stalled proxy or NAT keeps the TCP connection
   * open). Reports a reconnection once done. On a Cluster, where node-redis owns the shard
   * subscribers, the channels are subscribed again instead.
   */
  renewSubscriber(): Promise<void>;
  /**
   * Checks the commands connection after a command went unanswered: a PING must come back within
   * {@link PROBE_TIMEOUT_MS}, or the connection is replaced by a new one that answers (and, meanwhile,
   * `ready` is false, so calls fail fast). A network that drops packets, or a peer gone without a
   * reset, leaves TCP open for many minutes, and node-redis would keep writing into it. Concurrent
   * calls share one check. On a Cluster, where node-redis owns one connection per shard, the check
   * is only a PING of every master, and its failure is reported, not repaired.
   */
  checkCommands(): Promise<void>;
  close(): Promise<void>;
}

/** How long a PING may take on a connection suspected dead before it is replaced. */
export const PROBE_TIMEOUT_MS = 2000;
/** Pause between two attempts to open a replacement connection that answers. */
const REOPEN_DELAY_MS = 250;

export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL (standalone). */
  readonly url?: string;
  /** Cluster seed nodes `host:port`. */
  readonly clusterNodes?: readonly string[];
}

/**
 * Reconnect with capped, jittered backoff, forever once the node runs: Redis restarting or a network
 * blip must not take a node down. node-redis does not reconnect after a socket timeout by default, so
 * the strategy is set explicitly.
 *
 * While the node is starting, though, a failure that retrying cannot fix (Redis refused the
 * credentials, or its TLS certificate is not trusted) stops the start with a message that says what
 * to fix, instead of a node that waits forever. Redis not answering yet is retried: it may be starting
 * too.
 */
function reconnectStrategy(startup: Startup) {
  return (retries: number, cause: Error): number | Error => {
    const permanent = startup.starting ? permanentStartFailure(cause) : undefined;
    if (permanent !== undefined) {
      startup.failure = permanent;
      return permanent;
    }
    const base = Math.min(2000, 50 * 2 ** Math.min(retries, 6));
    return Math.round(base / 2 + Math.random() * (base / 2));
  };
}

/** Whether the connections are still being opened, and why they could not be, if retrying cannot help. */
interface Startup {
  starting: boolean;
  failure: Error | undefined;
}

/** Replies to AUTH (or HELLO) that mean the URL's credentials are wrong. */
const CREDENTIAL_REPLIES = ['WRONGPASS', 'NOAUTH', 'NOPERM', 'ERR invalid password', 'ERR AUTH'];

/** The reason a start cannot succeed by retrying, or undefined when it may. */
function permanentStartFailure(cause: Error): Error | undefined {
  if (cause instanceof ErrorReply && CREDENTIAL_REPLIES.some((reply) => cause.message.startsWith(reply))) {
    return new Error(
      `Redis refused the credentials of the Redis URL (${cause.message.split('.')[0]}); check the user name and password in HERALD_REDIS_URL`,
      { cause },
    );
  }
  const code = (cause as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new Error(
      `the TLS certificate of Redis is not trusted (${code}: ${cause.message}); if it is signed by your own CA, point NODE_EXTRA_CA_CERTS at the CA's certificate file`,
      { cause },
    );
  }
  return undefined;
}

/**
 * Opens the connections; when one fails for good, drops them all (another one would otherwise keep
 * retrying, and keep the process alive) and rejects with the permanent failure, if that is what
 * stopped it.
 */
async function connectOnce(
  startup: Startup,
  connect: () => Promise<unknown>,
  destroy: () => void,
): Promise<void> {
  try {
    await connect();
  } catch (err) {
    try {
      destroy();
    } catch {
      // already closed
    }
    throw startup.failure ?? err;
  } finally {
    startup.starting = false;
  }
}

/**
 * `socketTimeout`: a connection that received nothing for 15 s is dropped and opened again. A
 * healthy one never goes that long (node-redis PINGs every 5 s), but one whose handshake was swallowed
 * by something that accepts TCP and never answers (a proxy whose Redis is gone) would otherwise wait
 * forever, reconnecting never, and the node would stay not ready.
 */
const SOCKET = { connectTimeout: 2000, socketTimeout: 15_000 } as const;
/**
 * Commands fail at once while disconnected instead of piling up: publishes must fail fast. The queue
 * of commands waiting for answers is bounded too, for a Redis that stopped answering without closing
 * the connection: past it, commands fail at once instead of holding memory.
 *
 * node-redis's own command timeout is off (`timeout: 0`): it covers only a command's wait to be
 * written, never the wait for the answer, and the broker bounds every call as a whole (5 s, see
 * errors.ts). Left on, it costs an AbortSignal.timeout per command, which is expensive enough that
 * turning it off nearly doubled the publications a second one node could store through the batch
 * publish (on a 2-core machine).
 */
const CLIENT = {
  disableOfflineQueue: true,
  pingInterval: 5000,
  commandsQueueMaxLength: 50_000,
  commandOptions: { timeout: 0 },
} as const;
/** How long a clean close may wait for replies to commands in flight before connections are dropped. */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * Closes cleanly (waiting for replies in flight), or drops the connections after `ms`: on a connection
 * that died without a word, replies never come, and shutdown must not hang on them.
 */
async function closeWithin(client: { close(): Promise<void>; destroy(): void }, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  const outcome = await Promise.race([client.close().catch(() => 'failed' as const), timeout]);
  clearTimeout(timer);
  if (outcome !== undefined) client.destroy();
}

interface ScriptRunner {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(source: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Runs a script by SHA; Redis answers NOSCRIPT until it has seen the source once (or after a restart). */
async function runScript(
  target: ScriptRunner,
  script: RedisScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const options = { keys: [...keys], arguments: [...args] };
  try {
    return await target.evalSha(script.sha, options);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    return target.eval(script.source, options);
  }
}

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  if (options.clusterNodes !== undefined && options.clusterNodes.length > 0) {
    return new ClusterConnection(options.clusterNodes);
  }
  return new StandaloneConnection(options.url ?? 'redis://127.0.0.1:6379');
}

class StandaloneConnection implements RedisConnection {
  readonly sharded = false;
  #commands: RedisClientType;
  #subscriber: RedisClientType;
  /** What the subscriber connection listens to, to subscribe a replacement to the same. */
  readonly #subscriptions = new Map<string, PubsubListener>();
  readonly #errorListeners: ((err: Error) => void)[] = [];
  readonly #reconnectListeners: (() => void)[] = [];
  /** The subscriber connection came back after a loss; reported once both connections are up. */
  #subscriberInterrupted = false;
  /** A check of the commands connection, and its replacement if needed, under way. */
  #commandsCheck: Promise<void> | undefined;
  #replacingCommands = false;
  #subscriberRenewal: Promise<void> | undefined;
  /** Replacements being opened, until they are in use: dropped if the node closes meanwhile. */
  readonly #opening = new Set<RedisClientType>();
  /** Replacements given up on: node-redis may still finish a connect under way, and then must not stay. */
  readonly #abandoned = new WeakSet<RedisClientType>();
  /** When the commands connection last answered a command (`Date.now()`). */
  #answeredAt = 0;
  #closed = false;

  readonly #startup: Startup = { starting: true, failure: undefined };

  constructor(url: string) {
    const socket = { ...SOCKET, reconnectStrategy: reconnectStrategy(this.#startup) };
    this.#commands = this.#watch(createClient({ url, socket, ...CLIENT }), 'commands');
    this.#subscriber = this.#watch(this.#commands.duplicate(), 'subscriber');
  }

  /**
   * Reports `client`'s errors, and its reconnections once both connections are up, so the node's
   * checks can run at once. The first `ready` of a client is no interruption: at start, nothing was
   * missed, and a replacement reports itself once subscribed.
   */
  #watch(client: RedisClientType, role: 'commands' | 'subscriber'): RedisClientType {
    client.on('error', (err: Error) => this.#errorListeners.forEach((listener) => listener(err)));
    let connected = false;
    client.on('ready', () => {
      if (this.#abandoned.has(client)) {
        client.destroy();
        return;
      }
      if (role === 'subscriber' && connected) this.#subscriberInterrupted = true;
      connected = true;
      this.#reportIfRecovered();
    });
    return client;
  }

  #reportIfRecovered(): void {
    if (!this.#subscriberInterrupted || !this.ready) return;
    this.#subscriberInterrupted = false;
    this.#reconnectListeners.forEach((listener) => listener());
  }

  get ready(): boolean {
    return !this.#replacingCommands && this.#commands.isReady && this.#subscriber.isReady;
  }

  async connect(): Promise<void> {
    await connectOnce(
      this.#startup,
      () => Promise.all([this.#commands.connect(), this.#subscriber.connect()]),
      () => [this.#commands, this.#subscriber].forEach((client) => client.isOpen && client.destroy()),
    );
  }

  async run(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const reply = await runScript(this.#commands, script, keys, args);
    this.#answeredAt = Date.now();
    return reply;
  }

  async publish(pubsubChannel: string, message: string): Promise<void> {
    await this.#commands.publish(pubsubChannel, message);
    this.#answeredAt = Date.now();
  }

  subscribe(pubsubChannel: string, listener: PubsubListener): Promise<void> {
    this.#subscriptions.set(pubsubChannel, listener);
    return this.#subscriber.subscribe(pubsubChannel, listener);
  }

  unsubscribe(pubsubChannel: string): Promise<void> {
    this.#subscriptions.delete(pubsubChannel);
    return this.#subscriber.unsubscribe(pubsubChannel);
  }

  renewSubscriber(): Promise<void> {
    this.#subscriberRenewal ??= this.#renewSubscriber().finally(() => (this.#subscriberRenewal = undefined));
    return this.#subscriberRenewal;
  }

  async #renewSubscriber(): Promise<void> {
    const fresh = await this.#openAnswering('subscriber', () => true);
    const subscribed = new Map(this.#subscriptions);
    try {
      // Subscribed together (pipelined), and bounded (1 ms more per channel): the new connection may
      // die too, and the next repair must not wait behind this one forever.
      const subscribing = [...subscribed].map(([channel, listener]) => fresh.subscribe(channel, listener));
      await withTimeout(Promise.all(subscribing), PROBE_TIMEOUT_MS + subscribed.size);
      if (this.#closed) throw new Error('the Redis connection is closed');
    } catch (err) {
      this.#abandon(fresh);
      throw err;
    }
    const stale = this.#subscriber;
    this.#subscriber = fresh;
    this.#opening.delete(fresh);
    // Dropped, not closed: a stalled connection would never answer the QUIT.
    stale.destroy();
    // Channels subscribed or unsubscribed meanwhile went to the old connection.
    const changes: Promise<void>[] = [];
    for (const [channel, listener] of this.#subscriptions)
      if (!subscribed.has(channel)) changes.push(fresh.subscribe(channel, listener));
    for (const channel of subscribed.keys())
      if (!this.#subscriptions.has(channel)) changes.push(fresh.unsubscribe(channel));
    await Promise.all(changes);
    // Reported once the commands connection is up too: the node reads back what it missed through it.
    this.#subscriberInterrupted = true;
    this.#reportIfRecovered();
  }

  checkCommands(): Promise<void> {
    this.#commandsCheck ??= this.#checkCommands().finally(() => (this.#commandsCheck = undefined));
    return this.#commandsCheck;
  }

  /**
   * Alive if it answers a PING, or any command, within the probe's time: a PING waits behind the
   * commands sent before it, and a busy connection must not be taken for a dead one. Otherwise the
   * node turns not ready and opens new connections until one answers — unless the old one answers
   * first: then Redis was slow, not the connection dead, and it stays.
   */
  async #checkCommands(): Promise<void> {
    // Not ready: node-redis is reconnecting it already.
    if (!this.#commands.isReady) return;
    const since = Date.now();
    const answered = () => this.#answeredAt >= since;
    if ((await answers(this.#commands)) || answered()) return;
    this.#report(
      `the commands connection did not answer within ${PROBE_TIMEOUT_MS} ms; refusing calls and opening a new one`,
    );
    this.#replacingCommands = true;
    try {
      const fresh = await this.#openAnswering('commands', () => !answered());
      if (fresh === undefined) {
        this.#report('the commands connection answered after all (Redis was slow); keeping it');
        return;
      }
      this.#report('the commands connection was replaced by a new one that answers');
      const stale = this.#commands;
      this.#commands = fresh;
      this.#opening.delete(fresh);
      // Commands still waiting on it fail (see toEngineError: they may have been applied).
      stale.destroy();
    } finally {
      this.#replacingCommands = false;
    }
    this.#reportIfRecovered();
  }

  /**
   * Opens a new connection like the others and returns it once it answers a PING (still in
   * `#opening`: the caller puts it to use), trying again until one does, the node closes, or `needed`
   * turns false (then undefined).
   */
  async #openAnswering(role: 'commands', needed: () => boolean): Promise<RedisClientType | undefined>;
  async #openAnswering(role: 'subscriber', needed: () => true): Promise<RedisClientType>;
  async #openAnswering(
    role: 'commands' | 'subscriber',
    needed: () => boolean,
  ): Promise<RedisClientType | undefined> {
    for (;;) {
      if (this.#closed) throw new Error('the Redis connection is closed');
      if (!needed()) return undefined;
      const fresh = this.#watch(this.#commands.duplicate(), role);
      this.#opening.add(fresh);
      try {
        // Bounded: the handshake of a new connection into a dead network would wait forever too.
        await withTimeout(fresh.connect(), SOCKET.connectTimeout + PROBE_TIMEOUT_MS);
        if (!this.#closed && (await answers(fresh))) return fresh;
      } catch {
        // Dropped by close(), refused, or too slow: tried again below.
      }
      this.#abandon(fresh);
      await sleep(REOPEN_DELAY_MS);
    }
  }

  /** Tells the error listeners (the node logs them, rate limited) what the repair is doing. */
  #report(message: string): void {
    const err = new Error(message);
    this.#errorListeners.forEach((listener) => listener(err));
  }

  #abandon(client: RedisClientType): void {
    this.#opening.delete(client);
    this.#abandoned.add(client);
    if (client.isOpen) client.destroy();
  }

  onError(listener: (err: Error) => void): void {
    this.#errorListeners.push(listener);
  }

  onReconnected(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const client of this.#opening) client.destroy();
    await Promise.all(
      [this.#commands, this.#subscriber].map((client) => closeWithin(client, CLOSE_TIMEOUT_MS)),
    );
  }
}

/**
 * Whether `client` answers a PING within {@link PROBE_TIMEOUT_MS}. An error reply counts (a Redis
 * still loading its data is alive); silence, or a connection that closed or is offline, does not.
 */
async function answers(client: Pick<RedisClientType, 'ping'>): Promise<boolean> {
  try {
    await withTimeout(client.ping(), PROBE_TIMEOUT_MS);
    return true;
  } catch (err) {
    return err instanceof ErrorReply;
  }
}

class ClusterConnection implements RedisConnection {
  readonly sharded = true;
  readonly #subscriptions = new Map<string, PubsubListener>();
  readonly #cluster: RedisClusterType;
  readonly #errorListeners: ((err: Error) => void)[] = [];
  readonly #reconnectListeners: (() => void)[] = [];
  #connected = false;
  #commandsCheck: Promise<void> | undefined;

  readonly #startup: Startup = { starting: true, failure: undefined };

  constructor(nodes: readonly string[]) {
    this.#cluster = createCluster({
      rootNodes: nodes.map((node) => ({ url: `redis://${node}` })),
      defaults: { socket: { ...SOCKET, reconnectStrategy: reconnectStrategy(this.#startup) }, ...CLIENT },
    });
    const onError = (err: Error) => this.#errorListeners.forEach((listener) => listener(err));
    this.#cluster.on('error', onError);
    this.#cluster.on('node-error', onError);
    this.#cluster.on('sharded-channel-moved-error', onError);
    // After a connection to some node was lost (its client reconnects: a restart, or a master that
    // died and is being replaced by its replica), the next node coming up may be the shard's new
    // subscriber connection: publications may have been missed meanwhile. A pub/sub client opened for
    // a new subscription is no interruption. (A slot moved to another master raises no event at all:
    // the node's gap detection and periodic checks cover it.)
    let interrupted = false;
    this.#cluster.on('node-reconnecting', () => {
      if (this.#connected) interrupted = true;
    });
    this.#cluster.on('node-ready', () => {
      if (!interrupted || !this.#connected) return;
      interrupted = false;
      this.#reconnectListeners.forEach((listener) => listener());
    });
  }

  get ready(): boolean {
    return this.#connected && this.#cluster.isReady;
  }

  async connect(): Promise<void> {
    await connectOnce(
      this.#startup,
      () => this.#cluster.connect(),
      () => this.#cluster.destroy(),
    );
    this.#connected = true;
  }

  run(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return runScript(this.#cluster, script, keys, args);
  }

  async publish(pubsubChannel: string, message: string): Promise<void> {
    await this.#cluster.sPublish(pubsubChannel, message);
  }

  subscribe(pubsubChannel: string, listener: PubsubListener): Promise<void> {
    this.#subscriptions.set(pubsubChannel, listener);
    return this.#cluster.sSubscribe(pubsubChannel, listener);
  }

  unsubscribe(pubsubChannel: string): Promise<void> {
    this.#subscriptions.delete(pubsubChannel);
    return this.#cluster.sUnsubscribe(pubsubChannel);
  }

  async renewSubscriber(): Promise<void> {
    for (const [channel, listener] of this.#subscriptions) {
      await this.#cluster.sUnsubscribe(channel).catch(() => undefined);
      await this.#cluster.sSubscribe(channel, listener);
    }
    this.#reconnectListeners.forEach((listener) => listener());
  }

  checkCommands(): Promise<void> {
    this.#commandsCheck ??= this.#pingMasters().finally(() => (this.#commandsCheck = undefined));
    return this.#commandsCheck;
  }

  /** PINGs every master at once; one that does not answer is reported (node-redis owns its connection). */
  async #pingMasters(): Promise<void> {
    const bound = SOCKET.connectTimeout + PROBE_TIMEOUT_MS;
    await Promise.all(
      this.#cluster.masters.map(async (master) => {
        const client = await withTimeout(Promise.resolve(this.#cluster.nodeClient(master)), bound).catch(
          () => undefined,
        );
        if (client !== undefined && (await answers(client))) return;
        const err = new Error(
          `Redis master ${master.host}:${master.port} did not answer a PING within ${PROBE_TIMEOUT_MS} ms`,
        );
        this.#errorListeners.forEach((listener) => listener(err));
      }),
    );
  }

  onError(listener: (err: Error) => void): void {
    this.#errorListeners.push(listener);
  }

  onReconnected(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#connected = false;
    await closeWithin(this.#cluster, CLOSE_TIMEOUT_MS);
  }
}
