/** `channels`: 1,000 channels × 10 subscribers on one node, publications spread over the channels. */
import { parseArgs } from 'node:util';
import { intFlag } from '../lib/args.ts';
import { runComparison } from '../lib/comparison.ts';
import type { Scenario } from '../lib/scenario.ts';
import { COMPARISON_OPTIONS, comparisonSettings } from './fanout.ts';

const OPTIONS = {
  ...COMPARISON_OPTIONS,
  channels: { type: 'string' },
  'per-channel': { type: 'string' },
} as const;

export const channels: Scenario = {
  name: 'channels',
  description:
    'Many channels with a few subscribers each on one node (1,000 × 10 by default): publications go to ' +
    'the channels in turn, so each reaches 10 subscribers and most frames carry one message. Same ' +
    'systems and method as `fanout`.',
  options: OPTIONS,
  prepare(args, context) {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    const count = intFlag('channels', values.channels, context.quick ? 200 : 1000, 1, 10_000);
    const perChannel = intFlag('per-channel', values['per-channel'], 10, 1, 100);
    if (count * perChannel > 18_000)
      throw new RangeError('--channels × --per-channel must be at most 18,000');
    const names = Array.from({ length: count }, (_, i) => `ch-${i}`);
    const common = comparisonSettings(values, context.quick);
    return () =>
      runComparison(
        {
          scenario: 'channels',
          ...common,
          topology: { nodes: 1, broker: 'none' },
          subscriberNode: 0,
          publisherNode: 0,
          processes: 2,
          cases: [
            {
              key: `${count}x${perChannel}`,
              title: `${count.toLocaleString('en')} channels × ${perChannel} subscribers`,
              params: { channels: count, subscribersPerChannel: perChannel },
              // Subscriber i takes channel i % count: every channel's subscribers are spread over the processes.
              subscriberChannels: Array.from(
                { length: count * perChannel },
                (_, i) => names[i % count] ?? '',
              ),
              publishChannels: names,
              fanout: perChannel,
              ladder: {
                startRate: context.quick ? 5_000 : 2_500,
                factor: context.quick ? 4 : 2,
                maxRate: 400_000,
                maxSteps: context.quick ? 2 : 10,
              },
            },
          ],
        },
        context,
      );
  },
};
