import type { ClientInfo, StreamPosition } from '@herald/protocol';

export type { ClientInfo, StreamPosition };

/**
 * A publication inside Herald. `data` stays the JSON text the publisher sent (validated once on the
 * way in), so a node never parses or re-serialises it on the way out: it is spliced into the frame.
 */
export interface Publication {
  readonly channel: string;
  /** Position in the channel's history; 0 where the channel keeps no history. */
  readonly offset: number;
  /** The history's epoch; "" where the channel keeps no history. */
  readonly epoch: string;
  /** JSON text. */
  readonly data: string;
  readonly info?: ClientInfo;
  /** Milliseconds since the Unix epoch at which the node accepted the publication. */
  readonly time: number;
}

/** Encodes a publication's wire form (the `pub` object of a push), splicing in the JSON data. */
export function encodePublication(pub: Publication): string {
  let out = pub.offset > 0 ? `{"offset":${pub.offset},"epoch":${JSON.stringify(pub.epoch)},` : '{';
  out += `"data":${pub.data}`;
  if (pub.info !== undefined) out += `,"info":${JSON.stringify(pub.info)}`;
  return `${out},"time":${pub.time}}`;
}

/** Encodes the push message that delivers a publication to a subscriber of its channel. */
export function encodePublicationPush(pub: Publication): string {
  return `{"push":{"channel":${JSON.stringify(pub.channel)},"pub":${encodePublication(pub)}}}`;
}
