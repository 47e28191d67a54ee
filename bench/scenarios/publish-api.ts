/** `publish-api`: not built yet (issue 4). */
import type { Scenario } from '../lib/scenario.ts';

export const publishApi: Scenario = {
  name: 'publish-api',
  description: 'Not built yet.',
  options: {},
  prepare() {
    return () => Promise.reject(new Error('the publish-api scenario is not built yet'));
  },
};
