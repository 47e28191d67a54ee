/**
 * One channel in the inspector: subscribed through the dashboard's live connection, its publications
 * (and joins and leaves) as they arrive, a box to publish a test message through the server API, and
 * its history and presence read through the server API.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Herald, JsonValue, SubscriptionState } from '../../../packages/client/src/index.ts';
import { ApiError, errorMessage, request } from '../shared/api.ts';
import { formatCount, formatJson, formatTime } from '../shared/format.ts';

/** Publications kept in the live feed, newest first. */
const FEED_LIMIT = 200;
const HISTORY_LIMIT = 50;

type FeedItem =
  | {
      readonly kind: 'publication';
      readonly key: string;
      readonly time: number;
      readonly offset: number | undefined;
      readonly data: unknown;
      readonly user: string | undefined;
    }
  | { readonly kind: 'join' | 'leave'; readonly key: string; readonly time: number; readonly user: string };

let nextKey = 0;

export function ChannelView({ client, channel }: { readonly client: Herald; readonly channel: string }) {
  const [state, setState] = useState<SubscriptionState>('unsubscribed');
  const [error, setError] = useState<string | undefined>();
  const [feed, setFeed] = useState<readonly FeedItem[]>([]);
  const [tab, setTab] = useState<'live' | 'history' | 'presence'>('live');

  useEffect(() => {
    // The overview's subscription to $herald:stats is shared, not ended here.
    const existing = client.getSubscription(channel);
    const subscription = existing ?? client.newSubscription(channel);
    const add = (item: FeedItem) => setFeed((items) => [item, ...items].slice(0, FEED_LIMIT));
    const offs = [
      subscription.on('state', ({ newState }) => setState(newState)),
      subscription.on('subscribed', () => setError(undefined)),
      subscription.on('publication', ({ data, offset, time, info }) =>
        add({ kind: 'publication', key: `p${nextKey++}`, time, offset, data, user: info?.user }),
      ),
      subscription.on('join', ({ user }) =>
        add({ kind: 'join', key: `j${nextKey++}`, time: Date.now(), user }),
      ),
      subscription.on('leave', ({ user }) =>
        add({ kind: 'leave', key: `l${nextKey++}`, time: Date.now(), user }),
      ),
      subscription.on('error', ({ error: err }) => setError(err.message)),
      subscription.on('unsubscribed', ({ code, reason }) => {
        if (code !== 0) setError(reason);
      }),
    ];
    setState(subscription.state);
    if (existing === undefined) subscription.subscribe();
    return () => {
      for (const off of offs) off();
      if (existing === undefined) client.removeSubscription(subscription);
    };
  }, [client, channel]);

  return (
    <section class="card channel-view" data-testid="channel-view">
      <header class="channel-head">
        <h2>
          <code>{channel}</code>
        </h2>
        <span class={`badge ${state === 'subscribed' ? 'good' : state === 'subscribing' ? 'warn' : 'idle'}`}>
          {state === 'subscribed' ? 'Live' : state === 'subscribing' ? 'Subscribing…' : 'Not subscribed'}
        </span>
      </header>
      {error !== undefined && <p class="banner bad">{error}</p>}
      <Publisher channel={channel} />
      <nav class="tabs" role="tablist">
        {(['live', 'history', 'presence'] as const).map((name) => (
          <button
            key={name}
            type="button"
            role="tab"
            aria-selected={tab === name}
            class={tab === name ? 'tab active' : 'tab'}
            onClick={() => setTab(name)}
          >
            {name === 'live'
              ? `Live${feed.length > 0 ? ` · ${feed.length}` : ''}`
              : name[0]?.toUpperCase() + name.slice(1)}
          </button>
        ))}
      </nav>
      {tab === 'live' && <Feed items={feed} onClear={() => setFeed([])} />}
      {tab === 'history' && <History channel={channel} />}
      {tab === 'presence' && <Presence channel={channel} />}
    </section>
  );
}

function Feed({ items, onClear }: { readonly items: readonly FeedItem[]; readonly onClear: () => void }) {
  if (items.length === 0) {
    return <p class="empty">Waiting for publications… they appear here as they arrive.</p>;
  }
  return (
    <div class="feed-wrap">
      <button type="button" class="button ghost small clear" onClick={onClear}>
        Clear
      </button>
      <ol class="feed" data-testid="feed">
        {items.map((item) =>
          item.kind === 'publication' ? (
            <li key={item.key} class="publication">
              <div class="meta">
                <span class="num">{formatTime(item.time)}</span>
                {item.offset !== undefined && <span class="num">#{item.offset}</span>}
                {item.user !== undefined && <span>from {item.user || 'anonymous'}</span>}
              </div>
              <pre class="json">{formatJson(item.data)}</pre>
            </li>
          ) : (
            <li key={item.key} class="presence-event">
              <span class="num">{formatTime(item.time)}</span> <strong>{item.user || 'anonymous'}</strong>{' '}
              {item.kind === 'join' ? 'joined' : 'left'}
            </li>
          ),
        )}
      </ol>
    </div>
  );
}

function Publisher({ channel }: { readonly channel: string }) {
  const [text, setText] = useState('{"text": "hello from the dashboard"}');
  const [result, setResult] = useState<{ readonly ok: boolean; readonly message: string } | undefined>();
  const [busy, setBusy] = useState(false);

  const publish = async () => {
    let data: JsonValue;
    try {
      data = JSON.parse(text) as JsonValue;
    } catch {
      setResult({ ok: false, message: 'Not valid JSON (put text in quotes: "hello").' });
      return;
    }
    setBusy(true);
    try {
      const { offset } = await request<{ offset?: number }>('/api/publish', {
        method: 'POST',
        body: { channel, data },
      });
      setResult({
        ok: true,
        message: offset === undefined ? 'Published.' : `Published at offset ${offset}.`,
      });
    } catch (err) {
      setResult({ ok: false, message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="publisher"
      onSubmit={(event) => {
        event.preventDefault();
        void publish();
      }}
    >
      <textarea
        rows={2}
        spellcheck={false}
        aria-label="Data to publish (JSON)"
        data-testid="publish-data"
        value={text}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            void publish();
          }
        }}
      />
      <div class="publisher-foot">
        <span class={result === undefined ? 'hint' : result.ok ? 'ok' : 'error'} role="status">
          {result?.message ?? 'JSON · Ctrl+Enter to publish through the server API'}
        </span>
        <button type="submit" class="button primary" disabled={busy} data-testid="publish">
          Publish
        </button>
      </div>
    </form>
  );
}

/** Runs `load` when shown, when `deps` change and on `refresh()`; the result or the error. */
function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [value, setValue] = useState<{ readonly result?: T; readonly error?: unknown } | undefined>();
  const [round, setRound] = useState(0);
  useEffect(() => {
    let stopped = false;
    load().then(
      (result) => !stopped && setValue({ result }),
      (error: unknown) => !stopped && setValue({ error }),
    );
    return () => {
      stopped = true;
    };
    // `deps` names what `load` reads.
  }, [...deps, round]);
  return { value, refresh: () => setRound((r) => r + 1) };
}

interface HistoryBody {
  readonly publications: readonly { offset: number; data: unknown; time: number; info?: { user: string } }[];
  readonly offset: number;
  readonly epoch: string;
}

function History({ channel }: { readonly channel: string }) {
  const { value, refresh } = useLoad(
    () => request<HistoryBody>('/api/history', { query: { channel, limit: HISTORY_LIMIT, reverse: true } }),
    [channel],
  );
  return (
    <div class="panel" data-testid="history">
      <div class="panel-head">
        <span class="hint">
          {value?.result === undefined
            ? 'Newest first'
            : `Position ${value.result.offset} · epoch ${value.result.epoch} · newest ${HISTORY_LIMIT} first`}
        </span>
        <button type="button" class="button ghost small" onClick={refresh}>
          Refresh
        </button>
      </div>
      {value === undefined && <p class="empty">Loading…</p>}
      {value?.error !== undefined && <p class="empty">{explain(value.error)}</p>}
      {value?.result?.publications.length === 0 && <p class="empty">The history is empty.</p>}
      <ol class="feed">
        {value?.result?.publications.map((publication) => (
          <li key={publication.offset} class="publication">
            <div class="meta">
              <span class="num">{formatTime(publication.time)}</span>
              <span class="num">#{publication.offset}</span>
              {publication.info !== undefined && <span>from {publication.info.user || 'anonymous'}</span>}
            </div>
            <pre class="json">{formatJson(publication.data)}</pre>
          </li>
        ))}
      </ol>
    </div>
  );
}

interface PresenceBody {
  readonly clients: readonly { client: string; user: string; info?: unknown }[];
  readonly cursor?: string;
}

function Presence({ channel }: { readonly channel: string }) {
  const { value, refresh } = useLoad(
    () =>
      Promise.all([
        request<{ clients: number; users: number }>('/api/presence-stats', { query: { channel } }),
        request<PresenceBody>('/api/presence', { query: { channel, limit: 100 } }),
      ]),
    [channel],
  );
  const [stats, page] = value?.result ?? [];
  return (
    <div class="panel" data-testid="presence">
      <div class="panel-head">
        <span class="hint">
          {stats === undefined
            ? 'Who is subscribed, on every node'
            : `${formatCount(stats.clients)} clients · ${formatCount(stats.users)} users`}
        </span>
        <button type="button" class="button ghost small" onClick={refresh}>
          Refresh
        </button>
      </div>
      {value === undefined && <p class="empty">Loading…</p>}
      {value?.error !== undefined && <p class="empty">{explain(value.error)}</p>}
      {page?.clients.length === 0 && <p class="empty">Nobody is here.</p>}
      <table class="presence-table">
        <tbody>
          {page?.clients.map(({ client, user, info }) => (
            <tr key={client}>
              <td>
                <strong>{user || 'anonymous'}</strong>
              </td>
              <td>
                <code class="id">{client}</code>
              </td>
              <td>{info === undefined ? '' : <code>{formatJson(info)}</code>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page?.cursor !== undefined && <p class="hint">Showing the first 100.</p>}
    </div>
  );
}

function explain(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'HERALD_ERR_PRESENCE_DISABLED') return "This channel's namespace keeps no presence.";
    if (error.code === 'HERALD_ERR_HISTORY_DISABLED') return "This channel's namespace keeps no history.";
  }
  return errorMessage(error);
}
