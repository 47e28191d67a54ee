/** `recovery`: not built yet (issue 4). */
import type { Scenario } from '../lib/scenario.ts';

export const recovery: Scenario = {
  name: 'recovery',
  description: 'Not built yet.',
  options: {},
  prepare() {
    return () => Promise.reject(new Error('the recovery scenario is not built yet'));
  },
};
