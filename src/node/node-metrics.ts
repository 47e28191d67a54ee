/**
 * What the node reports to metrics as it works: an interface, so the node does not depend on the
 * metrics library, and tests or embedders without metrics pass {@link NO_METRICS}. Gauges (connections,
 * channels…) are not here: metrics read them from the node when scraped.
 */
export interface NodeMetrics {
  /** A publish (or a batch of `items`) took `seconds`, from the call to the engine's answer. */
  observePublish(seconds: number, source: PublishSource): void;
  /** An engine call took `seconds` (failures included). */
  observeEngine(operation: EngineOperation, seconds: number): void;
  /** Publications reached this node's subscribers `seconds` after they were published. */
  observeDeliveryLag(seconds: number): void;
  /** The node's delivery check found publications no longer reach it. */
  countDeliveryCheckFailure(): void;
  /** A request or command was refused with `code` (`HERALD_ERR_…`). */
  countError(code: string, via: 'client' | 'api'): void;
  /** The node closed a client's connection with `code`. */
  countDisconnect(code: number): void;
}

export type PublishSource = 'api' | 'client' | 'batch';

export type EngineOperation = 'publish' | 'publishBatch' | 'history' | 'presence' | 'presenceStats';

export const NO_METRICS: NodeMetrics = {
  observePublish: () => undefined,
  observeEngine: () => undefined,
  observeDeliveryLag: () => undefined,
  countDeliveryCheckFailure: () => undefined,
  countError: () => undefined,
  countDisconnect: () => undefined,
};
