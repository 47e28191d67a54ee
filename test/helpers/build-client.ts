/**
 * Vitest global setup: builds the client SDK's browser bundles and the dashboard's pages, so browser
 * tests load the current code.
 */
import { buildClient } from '../../packages/client/build.ts';
import { buildWeb } from '../../web/build.ts';

export default async function setup(): Promise<void> {
  await Promise.all([buildClient({ quiet: true }), buildWeb({ quiet: true })]);
}
