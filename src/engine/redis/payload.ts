/**
 * How a publication travels through Redis (pub/sub message and history entry alike):
 * `<offset>\t<epoch>\t<time>\t<info JSON or empty>\t<data JSON>`. The node writes the tail
 * (time, info, data); the publish script prepends the position it assigned. JSON text produced by
 * JSON.stringify never contains a raw tab, so the first four tabs are always the separators.
 */
import type { ClientInfo, Publication } from '../../core/publication.ts';

export function encodeTail(time: number, info: ClientInfo | undefined, data: string): string {
  return `${time}\t${info === undefined ? '' : JSON.stringify(info)}\t${data}`;
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
