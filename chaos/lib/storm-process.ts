/**
 * A load process of the reconnect-storm scenario (chaos/scenarios/reconnect-storm.ts), driven over IPC
 * (bench's `LoadProcess`): it holds a share of the SDK checking subscribers, each from one of its own
 * loopback source addresses, and at the end checks them against the publisher's acknowledgements and
 * sends back the sums (a few thousand clients' receipts stay here).
 */
import { serveRequests } from '../../bench/lib/load-process.ts';
import type { Ack } from '../../test/helpers/checking-publisher.ts';
import { waitForDelivery } from '../../test/helpers/delivery-check.ts';
import { SdkCheckingSubscriber } from '../../test/helpers/sdk-checking-subscriber.ts';
import { tally, type Tally } from './outcome.ts';

export interface StormOpenRequest {
  readonly url: string;
  readonly token: string;
  /** One entry per client: the channel it subscribes to. */
  readonly channels: readonly string[];
  readonly localAddresses: readonly string[];
  readonly minReconnectDelay: number;
  readonly maxReconnectDelay: number;
  /** Clients connecting at once while opening. */
  readonly concurrency: number;
}

export interface StormStatus {
  readonly clients: number;
  readonly subscribed: number;
  /** Clients that lost their connection at least once. */
  readonly reconnecting: number;
}

export interface StormCheckRequest {
  readonly acks: readonly Ack[];
  readonly faults: readonly number[];
  /** How long to wait for every acknowledged publication to arrive. */
  readonly waitMs: number;
}

let subscribers: SdkCheckingSubscriber[] = [];

async function open(request: StormOpenRequest): Promise<{ opened: number }> {
  let next = 0;
  const worker = async () => {
    while (next < request.channels.length) {
      const i = next++;
      subscribers.push(
        await SdkCheckingSubscriber.start(
          {
            url: request.url,
            channels: [request.channels[i] as string],
            getToken: () => Promise.resolve(request.token),
            localAddress: request.localAddresses[i % request.localAddresses.length] ?? '127.0.0.1',
            minReconnectDelay: request.minReconnectDelay,
            maxReconnectDelay: request.maxReconnectDelay,
          },
          60_000,
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  return { opened: subscribers.length };
}

function status(): StormStatus {
  return {
    clients: subscribers.length,
    subscribed: subscribers.filter((s) => s.subscribed).length,
    reconnecting: subscribers.filter((s) => s.report().closes.length > 0).length,
  };
}

async function check(request: StormCheckRequest): Promise<Tally> {
  const result = await waitForDelivery(request.acks, subscribers, request.waitMs);
  const sums = tally(request.acks, subscribers, request.faults, result);
  return { ...sums, problems: sums.problems.slice(0, 20) };
}

serveRequests({
  open: (args) => open(args as StormOpenRequest),
  status,
  check: (args) => check(args as StormCheckRequest),
  stop: () => {
    for (const subscriber of subscribers) subscriber.stop();
    subscribers = [];
  },
});
