/** Every chaos scenario, in the order the runner runs them. */
import type { Scenario } from '../lib/scenario.ts';
import { clusterFailover } from './cluster-failover.ts';
import { killNode } from './kill-node.ts';
import { reconnectStorm } from './reconnect-storm.ts';
import { redisRestart } from './redis-restart.ts';
import { redisStall } from './redis-stall.ts';
import { rollingRestart } from './rolling-restart.ts';

export const SCENARIOS: readonly Scenario[] = [
  killNode,
  rollingRestart,
  redisRestart,
  clusterFailover,
  redisStall,
  reconnectStorm,
];
