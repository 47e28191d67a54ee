/**
 * How a publication travels through Redis. A history entry holds one payload:
 * `<offset>\t<epoch>\t<time>\t<info JSON or empty>\t<data JSON>`. The node writes the tail (time,
 * info, data); the publish scripts prepend the position they assigned. JSON text produced by
 * JSON.stringify never contains a raw tab, so the first four tabs are always the separators.
 *
 * A pub/sub message holds one payload (publish.lua) or several, in offset order, joined by `\n`
 * (publish-batch.lua: one message per batch step instead of one per publication). No payload contains
 * a raw line feed: offsets, times and epochs are plain text, info is written by JSON.stringify, which
 * escapes line feeds inside strings and adds no whitespace, and data is JSON text, where a raw line
 * feed could only be whitespace between tokens — `encodeTail` turns any into a space, so even data
 * from a caller that pretty-printed it keeps its meaning and cannot split a message.
 */
import type { ClientInfo, Publication } from '../../core/publication.ts';
import type { PresenceEntry, PresenceEvent } from '../presence.ts';

/** Separates the payloads of one pub/sub message. */
export const PAYLOAD_SEPARATOR = '\n';

export function encodeTail(time: number, info: ClientInfo | undefined, data: string): string {
  const text = data.includes(PAYLOAD_SEPARATOR) ? data.replaceAll(PAYLOAD_SEPARATOR, ' ') : data;
  return `${time}\t${info === undefined ? '' : JSON.stringify(info)}\t${text}`;
}

export function decodePayload(channel: string, payload: string): Publication | undefined {
  const t1 = payload.indexOf('\t');
  const t2 = payload.indexOf('\t', t1 + 1);
  const t3 = payload.indexOf('\t', t2 + 1);
  const t4 = payload.indexOf('\t', t3 + 1);
  if (t1 < 0 || t2 < 0 || t3 < 0 || t4 < 0) return undefined;
  const info = payload.slice(t3 + 1, t4);
  const publication = {
    channel,
    offset: Number(payload.slice(0, t1)),
    epoch: payload.slice(t1 + 1, t2),
    time: Number(payload.slice(t2 + 1, t3)),
    data: payload.slice(t4 + 1),
  };
  return info === '' ? publication : { ...publication, info: JSON.parse(info) as ClientInfo };
}

/** The publications of one pub/sub message, in the order they were published; malformed ones skipped. */
export function decodeMessage(channel: string, message: string): Publication[] {
  if (!message.includes(PAYLOAD_SEPARATOR)) {
    const publication = decodePayload(channel, message);
    return publication === undefined ? [] : [publication];
  }
  const publications: Publication[] = [];
  for (const payload of message.split(PAYLOAD_SEPARATOR)) {
    const publication = decodePayload(channel, payload);
    if (publication !== undefined) publications.push(publication);
  }
  return publications;
}

/**
 * Join and leave events share the channel's pub/sub channel with its publications, marked by a first
 * field that is not an offset: `j\t<entry JSON>` or `l\t<entry JSON>`, alone in their message.
 */
export function encodePresenceEvent(event: PresenceEvent): string {
  return `${event.type === 'join' ? 'j' : 'l'}\t${JSON.stringify(event.entry)}`;
}

/** The event a message holds, or undefined when it holds publications. */
export function decodePresenceEvent(message: string): PresenceEvent | undefined {
  if (message[1] !== '\t' || (message[0] !== 'j' && message[0] !== 'l')) return undefined;
  try {
    return {
      type: message[0] === 'j' ? 'join' : 'leave',
      entry: JSON.parse(message.slice(2)) as PresenceEntry,
    };
  } catch {
    return undefined;
  }
}
