/** JSON text of results that carry publications, splicing each publication's data in unparsed. */
import { encodePublication, type Publication, type StreamPosition } from '../core/publication.ts';

export interface SubscribeOutcome {
  readonly recoverable: boolean;
  readonly position?: StreamPosition;
  /** Set when the client asked to recover. */
  readonly recovered?: boolean;
  readonly publications?: readonly Publication[];
}

export interface HistoryOutcome {
  readonly publications: readonly Publication[];
  readonly position: StreamPosition;
}

function encodeList(publications: readonly Publication[]): string {
  return `[${publications.map(encodePublication).join(',')}]`;
}

export function encodeSubscribeResult(outcome: SubscribeOutcome): string {
  let out = `{"recoverable":${outcome.recoverable}`;
  if (outcome.position !== undefined) {
    out += `,"offset":${outcome.position.offset},"epoch":${JSON.stringify(outcome.position.epoch)}`;
  }
  if (outcome.recovered !== undefined) out += `,"recovered":${outcome.recovered}`;
  if (outcome.publications !== undefined) out += `,"publications":${encodeList(outcome.publications)}`;
  return `${out}}`;
}

export function encodeHistoryResult(outcome: HistoryOutcome): string {
  const { offset, epoch } = outcome.position;
  return `{"publications":${encodeList(outcome.publications)},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`;
}
