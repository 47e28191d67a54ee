/** The dashboard: sign-in, then the header and the current view (overview or channel inspector). */
import type { ClientState } from '../../../packages/client/src/index.ts';
import { Logo } from '../shared/logo.tsx';
import { SignIn } from '../shared/sign-in.tsx';
import { useNow, useSession } from '../shared/use-session.ts';
import { Inspector } from './inspector.tsx';
import { Overview } from './overview.tsx';
import { useRoute } from './routes.ts';
import { useAdminClient } from './use-admin-client.ts';
import { useStats, type StatsState } from './use-stats.ts';

export function App() {
  const { state, signedIn, signOut } = useSession();
  switch (state.status) {
    case 'checking':
      return <Splash text="Loading…" />;
    case 'unreachable':
      return <Splash text="Waiting for Herald to answer…" />;
    case 'signed-out':
      return <SignIn title="Herald dashboard" notice={state.notice} onSignedIn={signedIn} />;
    case 'signed-in':
      return <Dashboard onSignOut={signOut} />;
  }
}

function Splash({ text }: { readonly text: string }) {
  return (
    <main class="splash">
      <Logo size={32} />
      <p class="hint">{text}</p>
    </main>
  );
}

function Dashboard({ onSignOut }: { readonly onSignOut: () => void }) {
  const { client, state } = useAdminClient();
  const stats = useStats(client);
  const route = useRoute();
  const now = useNow(1000);
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/">
          <Logo /> <span class="brand-text">Herald</span>
        </a>
        <nav class="nav">
          <a href="#/" class={route.view === 'overview' ? 'active' : undefined}>
            Overview
          </a>
          <a href="#/channels" class={route.view === 'channels' ? 'active' : undefined}>
            Channels
          </a>
          <a href="/demo" target="_blank" rel="noopener" class="external">
            Demo ↗
          </a>
        </nav>
        <span class="spacer" />
        <LiveStatus state={state} stats={stats} now={now} />
        <button type="button" class="button ghost small" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main class="content">
        {route.view === 'overview' ? (
          <Overview stats={stats} now={now} />
        ) : (
          <Inspector client={client} channel={route.channel} />
        )}
      </main>
    </div>
  );
}

function LiveStatus({
  state,
  stats,
  now,
}: {
  readonly state: ClientState;
  readonly stats: StatsState;
  readonly now: number;
}) {
  const live = state === 'connected' && stats.live;
  const nodes = stats.model.totals(now).nodes;
  const text = live
    ? `Live · ${nodes} ${nodes === 1 ? 'node' : 'nodes'}`
    : state === 'connected'
      ? 'Subscribing…'
      : state === 'connecting'
        ? 'Reconnecting…'
        : 'Offline';
  return (
    <span class={`live-status ${live ? 'good' : 'warn'}`} data-testid="live-status" data-live={live}>
      <span class={`dot ${live ? 'dot-good pulse' : 'dot-warn'}`} />
      {text}
    </span>
  );
}
