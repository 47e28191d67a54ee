/** `connections`: not built yet (issue 4). */
import type { Scenario } from '../lib/scenario.ts';

export const connections: Scenario = {
  name: 'connections',
  description: 'Not built yet.',
  options: {},
  prepare() {
    return () => Promise.reject(new Error('the connections scenario is not built yet'));
  },
};
