/** Vitest global setup: builds the client SDK's browser bundles, so browser tests load the current code. */
import { buildClient } from '../../packages/client/build.ts';

export default async function setup(): Promise<void> {
  await buildClient({ quiet: true });
}
