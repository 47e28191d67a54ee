/**
 * The chat's live state, on the client SDK: a connection with a demo token (`POST /demo/api/token`,
 * allowed `demo:*` channels only), a subscription to the room with its recent history, live messages,
 * who is here (presence) and join/leave notices. Sends with the SDK's `publish`.
 */
import { useEffect, useState } from 'preact/hooks';
import type {
  ClientInfo,
  ClientState,
  Herald,
  Publication,
  Subscription,
} from '../../../packages/client/src/index.ts';
import { errorMessage, request } from '../shared/api.ts';
import { newClient } from '../shared/live.ts';

/** What the demo page publishes. */
export interface ChatMessage {
  readonly name: string;
  readonly text: string;
}

export type ChatItem =
  | {
      readonly kind: 'message';
      readonly key: string;
      readonly offset: number | undefined;
      readonly name: string;
      readonly text: string;
      readonly time: number;
      readonly mine: boolean;
    }
  | { readonly kind: 'notice'; readonly key: string; readonly text: string; readonly time: number };

export interface ChatState {
  readonly connection: ClientState;
  readonly subscribed: boolean;
  readonly items: readonly ChatItem[];
  /** Who is here: user → number of their connections (tabs). */
  readonly present: ReadonlyMap<string, number>;
  readonly error: string | undefined;
  readonly send: (text: string) => Promise<void>;
}

/** Messages loaded from history when entering a room (the demo namespace keeps 100). */
const HISTORY_LIMIT = 100;
/** Items kept on screen. */
const MAX_ITEMS = 500;
/** Presence pages read at most (a demo room is small). */
const MAX_PRESENCE_PAGES = 10;

let nextKey = 0;

export function useChat(name: string, room: string): ChatState {
  const [client, setClient] = useState<Herald | undefined>();
  const [subscription, setSubscription] = useState<Subscription<ChatMessage> | undefined>();
  const [connection, setConnection] = useState<ClientState>('disconnected');
  const [subscribed, setSubscribed] = useState(false);
  const [items, setItems] = useState<readonly ChatItem[]>([]);
  const [present, setPresent] = useState<ReadonlyMap<string, ClientInfo>>(new Map());
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    /** The user the server put in the token: messages of this user are shown as ours. */
    let me: string | undefined;
    const chat = newClient({
      name: 'herald-demo',
      getToken: async () => {
        const { token, user } = await request<{ token: string; user: string }>('/demo/api/token', {
          method: 'POST',
          body: { name },
        });
        me = user;
        return token;
      },
    });
    const channel = `demo:${room}`;
    const sub = chat.newSubscription<ChatMessage>(channel);
    const seen = new Set<number>();
    setItems([]);
    setPresent(new Map());

    const addMessage = ({ data, offset, time, info }: Publication<ChatMessage>) => {
      if (offset !== undefined) {
        if (seen.has(offset)) return;
        seen.add(offset);
      }
      const item = toItem(data, offset, time, info !== undefined && info.user === me, info?.user);
      setItems((current) => insertByOffset(current, item).slice(-MAX_ITEMS));
    };
    const notice = (text: string) =>
      setItems((current) =>
        [...current, { kind: 'notice' as const, key: `n${nextKey++}`, text, time: Date.now() }].slice(
          -MAX_ITEMS,
        ),
      );
    /**
     * Joins and leaves heard while presence is read, in order: the list read may or may not include
     * them, so they are applied again on top of it (adding and removing are idempotent).
     */
    let heard: { readonly type: 'join' | 'leave'; readonly info: ClientInfo }[] | undefined;
    const apply = (clients: Map<string, ClientInfo>, type: 'join' | 'leave', info: ClientInfo) => {
      if (type === 'join') clients.set(info.client, info);
      else clients.delete(info.client);
      return clients;
    };
    const loadPresence = async () => {
      const events: NonNullable<typeof heard> = [];
      heard = events;
      const clients = new Map<string, ClientInfo>();
      try {
        let cursor: string | undefined;
        for (let page = 0; page < MAX_PRESENCE_PAGES; page++) {
          const result = await sub.presence(cursor === undefined ? {} : { cursor });
          for (const entry of result.clients) clients.set(entry.client, entry);
          cursor = result.cursor;
          if (cursor === undefined) break;
        }
      } finally {
        if (heard === events) heard = undefined;
      }
      for (const { type, info } of events) apply(clients, type, info);
      setPresent(clients);
    };
    const onPresenceEvent = (type: 'join' | 'leave', info: ClientInfo) => {
      heard?.push({ type, info });
      setPresent((current) => apply(new Map(current), type, info));
      notice(`${info.user} ${type === 'join' ? 'joined' : 'left'}`);
    };

    const offs = [
      chat.on('state', ({ newState }) => setConnection(newState)),
      chat.on('error', ({ error: err, during }) => {
        if (during === 'connect') setError(err.message);
      }),
      chat.on('connected', () => setError(undefined)),
      sub.on('state', ({ newState }) => setSubscribed(newState === 'subscribed')),
      sub.on('publication', addMessage),
      sub.on('join', ({ client, user, info }) =>
        onPresenceEvent('join', { client, user, ...(info === undefined ? {} : { info }) }),
      ),
      sub.on('leave', ({ client, user, info }) =>
        onPresenceEvent('leave', { client, user, ...(info === undefined ? {} : { info }) }),
      ),
      sub.on('subscribed', ({ wasRecovering, recovered }) => {
        // Joins and leaves are not recovered: read who is here after every (re)subscribe.
        loadPresence().catch((err: unknown) => setError(errorMessage(err)));
        if (wasRecovering && recovered) return;
        sub.history({ limit: HISTORY_LIMIT, reverse: true }).then(
          ({ publications }) => {
            for (const publication of [...publications].reverse()) {
              addMessage({ ...publication, channel, data: publication.data as unknown as ChatMessage });
            }
          },
          (err: unknown) => setError(errorMessage(err)),
        );
      }),
      sub.on('error', ({ error: err }) => setError(err.message)),
    ];
    sub.subscribe();
    chat.connect();
    setClient(chat);
    setSubscription(sub);
    return () => {
      for (const off of offs) off();
      chat.disconnect();
    };
  }, [name, room]);

  const counts = new Map<string, number>();
  for (const { user } of present.values()) counts.set(user, (counts.get(user) ?? 0) + 1);
  const send = async (text: string) => {
    if (client === undefined || subscription === undefined) return;
    await subscription.publish({ name, text });
  };
  return { connection, subscribed, items, present: counts, error, send };
}

function toItem(
  data: unknown,
  offset: number | undefined,
  time: number,
  mine: boolean,
  user: string | undefined,
): ChatItem {
  const message = (typeof data === 'object' && data !== null ? data : {}) as Partial<Record<string, unknown>>;
  return {
    kind: 'message',
    key: offset === undefined ? `m${nextKey++}` : `o${offset}`,
    offset,
    // The name the server signed into the publisher's token, never the one in the data: anybody can
    // write any name there. Publications made through the server API have no publisher.
    name: user ?? 'server',
    text: typeof message['text'] === 'string' ? message['text'] : JSON.stringify(data),
    time,
    mine,
  };
}

/**
 * Live messages arrive in offset order and go last; history read after some live ones arrived has
 * lower offsets and goes before the first message with a higher offset.
 */
export function insertByOffset(items: readonly ChatItem[], item: ChatItem): ChatItem[] {
  if (item.kind !== 'message' || item.offset === undefined) return [...items, item];
  const offset = item.offset;
  const index = items.findIndex((other) => other.kind === 'message' && (other.offset ?? 0) > offset);
  if (index === -1) return [...items, item];
  return [...items.slice(0, index), item, ...items.slice(index)];
}
