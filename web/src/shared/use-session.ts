/** The page's session as Preact state: checked at load, ended by any 401, by its expiry or by signing out. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, onSignedOut } from './api.ts';
import { currentSession, signOut, type Session } from './session.ts';

export type SessionState =
  | { readonly status: 'checking' }
  /** The server did not answer; checking again shortly. */
  | { readonly status: 'unreachable' }
  | { readonly status: 'signed-out'; readonly notice?: string }
  | { readonly status: 'signed-in'; readonly expiresAt: number };

const RECHECK_MS = 2000;

export interface SessionControls {
  readonly state: SessionState;
  readonly signedIn: (session: Session) => void;
  readonly signOut: () => void;
}

export function useSession(): SessionControls {
  const [state, setState] = useState<SessionState>({ status: 'checking' });

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const check = () => {
      currentSession().then(
        (session) => {
          if (stopped) return;
          setState(
            session === undefined
              ? { status: 'signed-out' }
              : { status: 'signed-in', expiresAt: session.expiresAt },
          );
        },
        (error: unknown) => {
          if (stopped) return;
          if (error instanceof ApiError && error.status !== 0 && error.status < 500) {
            setState({ status: 'signed-out', notice: error.message });
            return;
          }
          setState({ status: 'unreachable' });
          timer = setTimeout(check, RECHECK_MS);
        },
      );
    };
    check();
    const off = onSignedOut(() => setState({ status: 'signed-out', notice: 'Your session has ended.' }));
    return () => {
      stopped = true;
      clearTimeout(timer);
      off();
    };
  }, []);

  const expiresAt = state.status === 'signed-in' ? state.expiresAt : undefined;
  useEffect(() => {
    if (expiresAt === undefined) return;
    // Timers cannot wait longer than 2^31-1 ms; sessions last hours, so this only guards odd clocks.
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(
      () => setState({ status: 'signed-out', notice: 'Your session has expired.' }),
      delay,
    );
    return () => clearTimeout(timer);
  }, [expiresAt]);

  const signedIn = useCallback(
    (session: Session) => setState({ status: 'signed-in', expiresAt: session.expiresAt }),
    [],
  );
  const doSignOut = useCallback(() => {
    void signOut()
      .catch(() => undefined)
      .then(() => setState({ status: 'signed-out' }));
  }, []);
  return { state, signedIn, signOut: doSignOut };
}

/** Re-renders every `intervalMs` and returns the time. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
