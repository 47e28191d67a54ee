/**
 * The chat demo at /demo: sign in (the dashboard's session), pick a name, chat in a room
 * (`demo:lobby`, or the room named in the URL's hash) with anyone else who opens the page.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../shared/api.ts';
import { formatTime } from '../shared/format.ts';
import { Logo } from '../shared/logo.tsx';
import { SignIn } from '../shared/sign-in.tsx';
import { useSession } from '../shared/use-session.ts';
import { useChat } from './use-chat.ts';

/** Per tab, so two windows of one browser can be two people. */
const NAME_KEY = 'herald-demo-name';
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TEXT = 1000;

function roomFromHash(): string {
  let room = '';
  try {
    room = decodeURIComponent(location.hash.slice(1));
  } catch {
    // A malformed escape (`#%`): the default room.
  }
  return ROOM_PATTERN.test(room) ? room : 'lobby';
}

export function DemoApp() {
  const { state, signedIn } = useSession();
  if (state.status === 'signed-out') {
    return <SignIn title="Herald chat demo" notice={state.notice} onSignedIn={signedIn} />;
  }
  if (state.status !== 'signed-in') {
    return (
      <main class="splash">
        <Logo size={32} />
        <p class="hint">{state.status === 'checking' ? 'Loading…' : 'Waiting for Herald to answer…'}</p>
      </main>
    );
  }
  return <Demo />;
}

function Demo() {
  const [name, setName] = useState(() => sessionStorage.getItem(NAME_KEY) ?? '');
  const [room, setRoom] = useState(roomFromHash);
  useEffect(() => {
    const onChange = () => setRoom(roomFromHash());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  if (name === '') {
    return (
      <NamePicker
        room={room}
        onPick={(picked) => {
          sessionStorage.setItem(NAME_KEY, picked);
          setName(picked);
        }}
      />
    );
  }
  return (
    <Chat
      name={name}
      room={room}
      onRename={() => {
        sessionStorage.removeItem(NAME_KEY);
        setName('');
      }}
    />
  );
}

function NamePicker({ room, onPick }: { readonly room: string; readonly onPick: (name: string) => void }) {
  const [value, setValue] = useState('');
  const name = value.trim();
  return (
    <main class="sign-in">
      <form
        class="card sign-in-card"
        data-testid="name-picker"
        onSubmit={(event) => {
          event.preventDefault();
          if (name !== '') onPick(name);
        }}
      >
        <div class="sign-in-brand">
          <Logo size={32} />
          <div>
            <h1>Join #{room}</h1>
            <p class="hint">
              A small chat on Herald's client SDK. Open this page in a second window to talk to yourself.
            </p>
          </div>
        </div>
        <label class="field">
          <span>Your name</span>
          <input
            name="name"
            maxLength={32}
            autofocus
            autocomplete="nickname"
            value={value}
            onInput={(event) => setValue(event.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button primary" disabled={name === ''}>
          Join
        </button>
      </form>
    </main>
  );
}

function Chat({
  name,
  room,
  onRename,
}: {
  readonly name: string;
  readonly room: string;
  readonly onRename: () => void;
}) {
  const chat = useChat(name, room);
  const [text, setText] = useState('');
  const [sendError, setSendError] = useState<string | undefined>();
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  useLayoutEffect(() => {
    const element = list.current;
    if (element !== null && stick.current) element.scrollTop = element.scrollHeight;
  }, [chat.items]);

  const send = async (event: Event) => {
    event.preventDefault();
    const message = text.trim();
    if (message === '') return;
    setSendError(undefined);
    try {
      stick.current = true;
      await chat.send(message);
      setText('');
    } catch (err) {
      setSendError(errorMessage(err));
    }
  };

  const live = chat.connection === 'connected' && chat.subscribed;
  const people = [...chat.present.entries()].sort(([a], [b]) => a.localeCompare(b));
  return (
    <div class="chat-shell">
      <header class="topbar">
        <a class="brand" href="/">
          <Logo /> Herald
        </a>
        <span class="room-name">#{room}</span>
        <span class="spacer" />
        <span class={`live-status ${live ? 'good' : 'warn'}`} data-testid="chat-status" data-live={live}>
          <span class={`dot ${live ? 'dot-good pulse' : 'dot-warn'}`} />
          {live ? 'Connected' : chat.connection === 'connected' ? 'Joining…' : 'Reconnecting…'}
        </span>
        <button type="button" class="button ghost small" onClick={onRename} title="Change your name">
          {name}
        </button>
      </header>
      <div class="chat">
        <section class="messages-pane">
          {chat.error !== undefined && <p class="banner warn">{chat.error}</p>}
          <ol
            class="messages"
            ref={list}
            data-testid="messages"
            onScroll={(event) => {
              const element = event.currentTarget;
              stick.current = element.scrollHeight - element.scrollTop - element.clientHeight < 48;
            }}
          >
            {chat.items.length === 0 && <li class="empty">No messages yet. Say hello!</li>}
            {chat.items.map((item) =>
              item.kind === 'notice' ? (
                <li key={item.key} class="notice-line">
                  {item.text} · <span class="num">{formatTime(item.time)}</span>
                </li>
              ) : (
                <li key={item.key} class={item.mine ? 'message mine' : 'message'}>
                  <div class="bubble">
                    <div class="message-meta">
                      <strong>{item.name}</strong> <span class="num">{formatTime(item.time)}</span>
                    </div>
                    <div class="message-text">{item.text}</div>
                  </div>
                </li>
              ),
            )}
          </ol>
          <form class="composer" onSubmit={send}>
            <input
              placeholder={`Message #${room}`}
              aria-label="Message"
              data-testid="message-input"
              maxLength={MAX_TEXT}
              value={text}
              onInput={(event) => setText(event.currentTarget.value)}
            />
            <button type="submit" class="button primary" disabled={!live || text.trim() === ''}>
              Send
            </button>
          </form>
          {sendError !== undefined && <p class="error composer-error">{sendError}</p>}
        </section>
        <aside class="people" data-testid="people">
          <h2>
            Here now <span class="count">{people.length}</span>
          </h2>
          <ul>
            {people.map(([user, tabs]) => (
              <li key={user}>
                <span class="avatar" style={{ background: avatarColor(user) }}>
                  {user.slice(0, 1).toUpperCase()}
                </span>
                <span class="person">{user}</span>
                {user === name && <span class="hint">you</span>}
                {tabs > 1 && <span class="hint">×{tabs}</span>}
              </li>
            ))}
          </ul>
          <RoomSwitcher room={room} />
        </aside>
      </div>
    </div>
  );
}

function RoomSwitcher({ room }: { readonly room: string }) {
  const [value, setValue] = useState('');
  const valid = ROOM_PATTERN.test(value);
  return (
    <form
      class="room-switcher"
      onSubmit={(event) => {
        event.preventDefault();
        if (valid) {
          location.hash = value;
          setValue('');
        }
      }}
    >
      <label class="field">
        <span>Another room</span>
        <input
          placeholder={room === 'lobby' ? 'e.g. team' : 'lobby'}
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
      </label>
    </form>
  );
}

/** A stable, calm color per name. */
function avatarColor(user: string): string {
  let hash = 0;
  for (const char of user) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 52%)`;
}
