/**
 * Feeds the overview's model: `$herald:stats` live (after each (re)subscribe, its history fills the
 * charts: the channel keeps minutes of samples) and `GET /api/info` every few seconds for the node list.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Herald } from '../../../packages/client/src/index.ts';
import { errorMessage, request } from '../shared/api.ts';
import { parseSample, StatsModel, type InfoNode } from './stats-model.ts';

export const STATS_CHANNEL = '$herald:stats';
const INFO_INTERVAL_MS = 5000;
/** Samples read from history at (re)subscribe: a few minutes of a handful of nodes. */
const HISTORY_LIMIT = 1000;

export interface StatsState {
  readonly model: StatsModel;
  /** Bumped on every change, for memoization. */
  readonly version: number;
  /** Whether `$herald:stats` is subscribed now. */
  readonly live: boolean;
  readonly error: string | undefined;
}

export function useStats(client: Herald): StatsState {
  const [model] = useState(() => new StatsModel());
  const [version, setVersion] = useState(0);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const subscription = client.getSubscription(STATS_CHANNEL) ?? client.newSubscription(STATS_CHANNEL);
    let infoTimer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    const refreshInfo = async () => {
      clearTimeout(infoTimer);
      try {
        const { nodes } = await request<{ nodes: InfoNode[] }>('/api/info');
        if (stopped) return;
        model.setInfo(nodes, Date.now());
        setError(undefined);
        bump();
      } catch (err) {
        if (!stopped) setError(errorMessage(err));
      }
      if (!stopped) infoTimer = setTimeout(() => void refreshInfo(), INFO_INTERVAL_MS);
    };

    const offs = [
      subscription.on('publication', ({ data }) => {
        const sample = parseSample(data);
        if (sample !== undefined && model.addSample(sample)) bump();
      }),
      subscription.on('state', ({ newState }) => setLive(newState === 'subscribed')),
      subscription.on('subscribed', () => {
        void refreshInfo();
        subscription.history({ limit: HISTORY_LIMIT, reverse: true }).then(
          ({ publications }) => {
            for (const { data } of publications) {
              const sample = parseSample(data);
              if (sample !== undefined) model.addSample(sample);
            }
            bump();
          },
          (err: unknown) => setError(`history of ${STATS_CHANNEL}: ${errorMessage(err)}`),
        );
      }),
      subscription.on('error', ({ error: err }) => setError(`${STATS_CHANNEL}: ${err.message}`)),
    ];
    subscription.subscribe();
    void refreshInfo();
    return () => {
      stopped = true;
      clearTimeout(infoTimer);
      for (const off of offs) off();
      client.removeSubscription(subscription);
    };
  }, [client, model]);

  return { model, version, live, error };
}
