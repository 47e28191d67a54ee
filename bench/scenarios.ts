/** The scenarios `npm run bench` knows, in the order it runs them. */
import { crossNode } from './cross-node.ts';
import type { Scenario } from './lib/scenario.ts';
import { connections } from './scenarios/connections.ts';
import { fanout } from './scenarios/fanout.ts';
import { publishApi } from './scenarios/publish-api.ts';
import { recovery } from './scenarios/recovery.ts';

export const SCENARIOS: readonly Scenario[] = [fanout, crossNode, connections, publishApi, recovery];
