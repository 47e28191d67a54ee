/** The sign-in card shared by the dashboard and the demo: the admin password or the API key. */
import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from './api.ts';
import { signIn, type Session } from './session.ts';
import { Logo } from './logo.tsx';

export interface SignInProps {
  readonly title: string;
  readonly notice?: string | undefined;
  readonly onSignedIn: (session: Session) => void;
}

export function SignIn({ title, notice, onSignedIn }: SignInProps) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (secret === '' || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(secret));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429
          ? 'Too many failed attempts. Wait a minute, then try again.'
          : errorMessage(err),
      );
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="card sign-in-card" onSubmit={submit} data-testid="sign-in">
        <div class="sign-in-brand">
          <Logo size={32} />
          <div>
            <h1>{title}</h1>
            <p class="status-line" id="status">
              <span class="dot dot-good" /> Herald is running
            </p>
          </div>
        </div>
        {notice !== undefined && <p class="notice">{notice}</p>}
        <label class="field">
          <span>Admin password or API key</span>
          <input
            type="password"
            name="secret"
            autocomplete="current-password"
            autofocus
            value={secret}
            onInput={(event) => setSecret(event.currentTarget.value)}
          />
        </label>
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="button primary" disabled={busy || secret === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">
          The password is <code>HERALD_ADMIN_PASSWORD</code>; the API key is <code>HERALD_API_KEY</code>,
          printed at start when generated.
        </p>
      </form>
    </main>
  );
}
