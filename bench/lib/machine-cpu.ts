/**
 * CPU the whole machine spends, to tell a quiet measurement from one that shared the machine: what
 * the run's own processes used is subtracted from it, and the rest is someone else's.
 */
import { readFileSync } from 'node:fs';

/** CPU seconds every core of the machine has spent busy since boot (/proc/stat; 100 ticks a second). */
export function machineBusySeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
    const ticks = fields.slice(0, 8).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (ticks.reduce((sum, value) => sum + value, 0) - idle) / 100;
  } catch {
    return 0;
  }
}
