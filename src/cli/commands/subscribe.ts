/**
 * `herald subscribe <channel...>`: connects over WebSocket like any client and prints publications as
 * JSON lines until interrupted (exit 0) or until the server closes the connection (exit 1).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { PublicationFrame, StreamPosition, SubscribeRequest, SubscribeResult } from '@herald/protocol';
import { checkChannel, clientToken, endpoint, serverUrl } from './client-options.ts';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from './io.ts';
import { PublicationPrinter } from './subscribe-output.ts';

/** The part of the protocol client that `subscribe` uses (src/cli/protocol-client.ts implements it). */
export interface SubscriptionClient {
  call(method: 'connect', params: { token?: string }): Promise<unknown>;
  call(method: 'subscribe', params: SubscribeRequest): Promise<SubscribeResult>;
  onPublication(handler: (channel: string, pub: PublicationFrame) => void): unknown;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): unknown;
}

export type OpenClient = (wsUrl: string) => Promise<SubscriptionClient>;

/** Loaded on use, so the other commands do not load the WebSocket client. */
const openProtocolClient: OpenClient = async (wsUrl) => {
  const { ProtocolClient } = await import('../protocol-client.ts');
  return ProtocolClient.open(wsUrl);
};

interface SubscribeOptions {
  url?: string;
  token?: string;
  since?: number;
  epoch?: string;
}

export function registerSubscribe(program: Command, io: CliIo, open: OpenClient = openProtocolClient): void {
  program
    .command('subscribe')
    .description('print publications of channels as JSON lines until interrupted')
    .argument('<channel...>', 'one or more channel names')
    .option('--url <url>', 'server URL (default: HERALD_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'client token (default: HERALD_TOKEN; none connects anonymously)')
    .addOption(
      new Option('--since <offset>', 'recover publications after this offset (needs --epoch)').argParser(
        parseOffset,
      ),
    )
    .option('--epoch <epoch>', 'epoch of the --since position')
    .addHelpText(
      'after',
      '\nExamples:\n  herald subscribe chat:lobby --token "$(herald token --user alice)"\n  herald subscribe chat:lobby --since 41 --epoch Xk3p --token "$HERALD_TOKEN"',
    )
    .action((channels: string[], options: SubscribeOptions) => subscribe(channels, options, io, open));
}

async function subscribe(
  channels: string[],
  options: SubscribeOptions,
  io: CliIo,
  open: OpenClient,
): Promise<void> {
  channels.forEach(checkChannel);
  const since = recoveryPosition(options, channels);
  const wsUrl = endpoint(serverUrl(options.url, io.env), 'connection/websocket', 'ws');
  const token = clientToken(options.token, io.env);
  const interrupt = interruption(io);
  let client: SubscriptionClient | undefined;
  try {
    client = await interrupt.race(openClient(open, wsUrl));
    await interrupt.race(step('connect', client.call('connect', token === undefined ? {} : { token })));
    const printer = new PublicationPrinter(io);
    client.onPublication((channel, pub) => printer.live(channel, pub));
    for (const channel of channels) {
      printer.hold(channel);
      const request: SubscribeRequest = since === undefined ? { channel } : { channel, since };
      const result = await interrupt.race(step(`subscribe to ${channel}`, client.call('subscribe', request)));
      printer.subscribed(channel, result, since);
    }
    const { code, reason } = await interrupt.race(client.closed);
    throw new CliError(
      `error: the server closed the connection (code ${code}${reason === '' ? '' : `: ${reason}`})`,
      EXIT_FAILURE,
    );
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    client?.close();
  } finally {
    interrupt.dispose();
  }
}

function recoveryPosition(options: SubscribeOptions, channels: string[]): StreamPosition | undefined {
  if (options.since === undefined && options.epoch === undefined) return undefined;
  if (options.since === undefined || options.epoch === undefined) {
    throw new CliError(
      'error: --since and --epoch go together: both name the position to recover from',
      EXIT_USAGE,
    );
  }
  if (channels.length !== 1) {
    throw new CliError(
      'error: --since recovers one channel (positions are per channel); name exactly one',
      EXIT_USAGE,
    );
  }
  return { offset: options.since, epoch: options.epoch };
}

async function openClient(open: OpenClient, wsUrl: string): Promise<SubscriptionClient> {
  try {
    return await open(wsUrl);
  } catch (err) {
    throw new CliError(`error: cannot connect to ${wsUrl}: ${describe(err)}`, EXIT_FAILURE, { cause: err });
  }
}

/** Turns a failed protocol call into a CLI failure that says which step failed and why. */
async function step<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw new CliError(`error: ${what} failed: ${describe(err)}`, EXIT_FAILURE, { cause: err });
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code =
    'code' in err && (typeof err.code === 'string' || typeof err.code === 'number') ? ` (${err.code})` : '';
  return `${err.message}${code}`;
}

class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** Lets any await be cut short by SIGINT/SIGTERM. */
function interruption(io: CliIo): { race<T>(promise: Promise<T>): Promise<T>; dispose(): void } {
  let dispose = (): void => {};
  const interrupted = new Promise<never>((_, reject) => {
    dispose = io.onSignal(() => reject(new Interrupted('interrupted')));
  });
  interrupted.catch(() => {});
  return { race: (promise) => Promise.race([promise, interrupted]), dispose };
}

function parseOffset(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(
      'must be a non-negative integer (the offset of the last publication you saw)',
    );
  }
  return Number(value);
}
