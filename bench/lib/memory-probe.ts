/**
 * Reading a server's memory from outside without the noise of garbage collection. A server process
 * started with {@link MemoryProbe.nodeFlags} (a preload) runs a full garbage collection when it gets
 * SIGUSR2 and writes its `process.memoryUsage()` to a file; {@link MemoryProbe.settle} does that every
 * 1.5 s until the process's resident set size stops changing.
 *
 * Why: V8 returns freed memory to the system late and in steps. Right after start a Node server holds
 * tens of MiB of start-up garbage (module compilation, the TypeScript loader's output), and after a
 * burst of handshakes tens more; without forced collections either may be released at any moment,
 * before or after a sample, which moved a per-connection figure by ±3 KiB at 10,000 connections.
 * Measured here: RSS drops in one large step a few seconds after the first forced collection, then
 * holds, so the loop runs for at least a few seconds and until three samples agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, tempDir } from './processes.ts';

/** What the preload writes after each forced collection. */
export interface MemoryReading {
  /** Resident set size, from /proc (the median of the last samples), bytes. */
  readonly rss: number;
  /** V8 heap in use right after the collection, bytes. */
  readonly heapUsed: number;
  /** Memory of C++ objects bound to JS objects (Buffers included), bytes. */
  readonly external: number;
}

/** Time between forced collections; each RSS sample is taken just before the next collection. */
const INTERVAL_MS = 1500;
/** Samples that must agree (within {@link STABLE_SHARE}) for RSS to count as settled. */
const STABLE_SAMPLES = 3;
const STABLE_SHARE = 0.005;
const ANSWER_TIMEOUT_MS = 10_000;

export class MemoryProbe {
  readonly #dir = tempDir('bench-memory-');
  readonly #file = join(this.#dir.path, 'memory.json');
  #count = 0;

  /** Node flags that load the preload (pass to `startSystem` as `nodeFlags`). */
  get nodeFlags(): string[] {
    writeFileSync(this.#file, '{"n":0}');
    // Written to a temporary name and renamed, so a reader never sees half a file.
    const source =
      'import v8 from "node:v8";import vm from "node:vm";import {renameSync,writeFileSync} from "node:fs";' +
      'v8.setFlagsFromString("--expose-gc");const gc=vm.runInNewContext("gc");let n=0;' +
      `const file=${JSON.stringify(this.#file)};` +
      'process.on("SIGUSR2",()=>{gc();const m=process.memoryUsage();' +
      'writeFileSync(file+".tmp",JSON.stringify({n:++n,heapUsed:m.heapUsed,external:m.external}));' +
      'renameSync(file+".tmp",file)});';
    return ['--import', `data:text/javascript,${encodeURIComponent(source)}`];
  }

  /** Forces a full collection in process `pid` and returns its heap figures. */
  async collect(pid: number): Promise<Omit<MemoryReading, 'rss'>> {
    const expected = ++this.#count;
    process.kill(pid, 'SIGUSR2');
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      await sleep(20);
      const reading = JSON.parse(readFileSync(this.#file, 'utf8')) as { n: number } & MemoryReading;
      if (reading.n >= expected) return { heapUsed: reading.heapUsed, external: reading.external };
    }
    throw new Error(`process ${pid} did not report its memory within ${ANSWER_TIMEOUT_MS} ms`);
  }

  /**
   * Forces collections every 1.5 s for at least `minSeconds`, then until three RSS samples agree
   * within 0.5% (at most `maxSeconds`). `rss` reads the process's resident set size.
   */
  async settle(
    pid: number,
    rss: () => number | undefined,
    minSeconds: number,
    maxSeconds = 20,
  ): Promise<MemoryReading> {
    const started = Date.now();
    const samples: number[] = [];
    let heap: Omit<MemoryReading, 'rss'>;
    for (;;) {
      heap = await this.collect(pid);
      await sleep(INTERVAL_MS);
      const bytes = rss();
      if (bytes === undefined) throw new Error(`process ${pid} is not running`);
      samples.push(bytes);
      const elapsed = (Date.now() - started) / 1000;
      const last = samples.slice(-STABLE_SAMPLES);
      const stable =
        last.length === STABLE_SAMPLES &&
        Math.max(...last) - Math.min(...last) <= STABLE_SHARE * Math.max(...last);
      if (
        elapsed >= maxSeconds ||
        (elapsed >= minSeconds && (stable || minSeconds < 3 * (INTERVAL_MS / 1000)))
      )
        break;
    }
    const last = samples.slice(-STABLE_SAMPLES).sort((a, b) => a - b);
    return { rss: last[Math.floor(last.length / 2)] ?? 0, ...heap };
  }

  remove(): void {
    this.#dir.remove();
  }
}
