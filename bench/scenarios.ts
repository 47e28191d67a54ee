/** The scenarios `npm run bench` knows, in the order it runs them. */
import type { Scenario } from './lib/scenario.ts';
import { channels } from './scenarios/channels.ts';
import { connections } from './scenarios/connections.ts';
import { crossNode } from './scenarios/cross-node.ts';
import { fanout } from './scenarios/fanout.ts';
import { publishApi } from './scenarios/publish-api.ts';
import { recovery } from './scenarios/recovery.ts';

export const SCENARIOS: readonly Scenario[] = [
  fanout,
  channels,
  crossNode,
  connections,
  publishApi,
  recovery,
];
