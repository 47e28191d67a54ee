/**
 * The channel inspector: a searchable list of the channels that have subscribers (all nodes, from
 * `GET /api/channels`), and the selected channel's live view.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Herald } from '../../../packages/client/src/index.ts';
import { errorMessage, request } from '../shared/api.ts';
import { formatCount } from '../shared/format.ts';
import { ChannelView } from './channel-view.tsx';
import { channelHref } from './routes.ts';

const REFRESH_MS = 3000;
/** The characters of channel names (docs/api.md); a search with others cannot match anything. */
const CHANNEL_CHARS = /^[A-Za-z0-9_\-.:@=/+$]+$/;

interface ChannelEntry {
  readonly channel: string;
  readonly subscribers: number;
}

/** A search box's text as a pattern: plain text matches anywhere in the name, `*` is taken as typed. */
export function searchPattern(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '*';
  return trimmed.includes('*') ? trimmed : `*${trimmed}*`;
}

export function Inspector({
  client,
  channel,
}: {
  readonly client: Herald;
  readonly channel: string | undefined;
}) {
  const [search, setSearch] = useState('');
  const [channels, setChannels] = useState<readonly ChannelEntry[] | undefined>();
  const [note, setNote] = useState<string | undefined>();

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const body = await request<{
          channels: ChannelEntry[];
          missingNodes?: string[];
          truncated?: boolean;
        }>('/api/channels', { query: { pattern: searchPattern(search) } });
        if (stopped) return;
        setChannels(body.channels);
        setNote(
          body.truncated === true
            ? 'Some nodes listed only part of their channels: narrow the search.'
            : body.missingNodes !== undefined && body.missingNodes.length > 0
              ? `${body.missingNodes.length} node(s) did not answer.`
              : undefined,
        );
      } catch (err) {
        if (!stopped) setNote(errorMessage(err));
      }
      if (!stopped) timer = setTimeout(() => void load(), REFRESH_MS);
    };
    // Typing restarts the timer: the list follows the search box without a request per keystroke.
    timer = setTimeout(() => void load(), 150);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [search]);

  const typed = search.trim();
  const canOpen = typed !== '' && !typed.includes('*') && CHANNEL_CHARS.test(typed);
  const open = () => {
    if (canOpen) location.hash = channelHref(typed);
  };

  return (
    <div class="inspector">
      <aside class="card channel-list">
        <form
          class="search"
          onSubmit={(event) => {
            event.preventDefault();
            open();
          }}
        >
          <input
            type="search"
            placeholder="Search, or type a channel name"
            aria-label="Search channels"
            data-testid="channel-search"
            value={search}
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </form>
        {note !== undefined && <p class="note">{note}</p>}
        <ul data-testid="channel-list">
          {canOpen && !(channels ?? []).some((entry) => entry.channel === typed) && (
            <li>
              <a href={channelHref(typed)} class="open-by-name">
                Open <code>{typed}</code>
              </a>
            </li>
          )}
          {channels === undefined && <li class="empty">Loading…</li>}
          {channels?.length === 0 && !canOpen && <li class="empty">No channel with subscribers matches.</li>}
          {channels?.map((entry) => (
            <li key={entry.channel}>
              <a href={channelHref(entry.channel)} class={entry.channel === channel ? 'selected' : undefined}>
                <span class="channel-name">{entry.channel}</span>
                <span class="pill num" title="subscribed connections">
                  {formatCount(entry.subscribers)}
                </span>
              </a>
            </li>
          ))}
        </ul>
      </aside>
      {channel === undefined ? (
        <section class="card channel-empty">
          <h2>Pick a channel</h2>
          <p>
            Choose a channel on the left, or type any channel name and press Enter, to watch its publications
            arrive, publish a test message, and read its history and presence.
          </p>
        </section>
      ) : (
        <ChannelView key={channel} client={client} channel={channel} />
      )}
    </div>
  );
}
