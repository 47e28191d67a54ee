/**
 * The dashboard's live connection: the SDK connecting without a token, which the session cookie makes
 * the dashboard's admin identity (it may subscribe to any channel, `$herald:stats` included). The SDK
 * reconnects by itself; if the server ends the connection for good (the session is no longer valid),
 * the session is checked: signed out, or connect again.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ClientState, Herald } from '../../../packages/client/src/index.ts';
import { notifySignedOut } from '../shared/api.ts';
import { newClient } from '../shared/live.ts';
import { currentSession } from '../shared/session.ts';

const RETRY_MS = 3000;

export function useAdminClient(): { readonly client: Herald; readonly state: ClientState } {
  const [client] = useState(() => newClient({ name: 'herald-dashboard' }));
  const [state, setState] = useState<ClientState>(client.state);

  useEffect(() => {
    let retry: ReturnType<typeof setTimeout> | undefined;
    const offState = client.on('state', ({ newState }) => setState(newState));
    const offDisconnected = client.on('disconnected', ({ code }) => {
      if (code === 0) return; // disconnect() below
      const check = () => {
        currentSession().then(
          (session) => (session === undefined ? notifySignedOut() : client.connect()),
          () => (retry = setTimeout(check, RETRY_MS)),
        );
      };
      retry = setTimeout(check, 250);
    });
    client.connect();
    return () => {
      clearTimeout(retry);
      offState();
      offDisconnected();
      client.disconnect();
    };
  }, [client]);

  return { client, state };
}
