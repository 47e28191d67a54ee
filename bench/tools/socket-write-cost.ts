/**
 * What one write to one loopback TCP socket costs on this machine: the floor under any fan-out that
 * sends each subscriber its own frame. Opens N sockets to a reader process, writes one 120-byte
 * buffer to each of them in a loop (as a fan-out does), and reports wall time and user/system CPU
 * per write.
 *
 *   node bin/run-ts.js bench/tools/socket-write-cost.ts [--sockets 10000] [--rounds 5]
 */
import { fork } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: { sockets: { type: 'string' }, rounds: { type: 'string' }, reader: { type: 'string' } },
});
const count = Number(values.sockets ?? 10_000);
const rounds = Number(values.rounds ?? 5);

if (values.reader !== undefined) {
  // The reader: holds the other ends and reads everything, from several source addresses.
  let open = 0;
  for (let i = 0; i < count; i++) {
    const socket = createConnection({
      port: Number(values.reader),
      host: '127.0.0.1',
      localAddress: `127.0.0.${2 + (i % 4)}`,
    });
    socket.on('connect', () => {
      if (++open === count) process.send?.('ready');
    });
    socket.on('data', () => undefined);
  }
  process.on('disconnect', () => process.exit(0));
} else {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.push(socket);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const reader = fork(
      fileURLToPath(import.meta.url),
      ['--sockets', String(count), '--reader', String(port)],
      {
        execArgv: ['--import', 'tsx'],
      },
    );
    reader.once('message', async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const payload = Buffer.alloc(120, 'x');
      for (let round = 1; round <= rounds; round++) {
        const cpu = process.cpuUsage();
        const started = process.hrtime.bigint();
        for (const socket of sockets) socket.write(payload);
        const wall = Number(process.hrtime.bigint() - started) / 1e3;
        const used = process.cpuUsage(cpu);
        console.log(
          `round ${round}: ${count} writes in ${(wall / 1000).toFixed(1)} ms: ${(wall / count).toFixed(2)} µs each ` +
            `(user ${(used.user / count).toFixed(2)} µs, system ${(used.system / count).toFixed(2)} µs)`,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      reader.kill();
      process.exit(0);
    });
  });
}
