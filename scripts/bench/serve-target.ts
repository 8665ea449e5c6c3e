/**
 * The process the load runs against, started by child-server.ts: the real
 * server (`startServer`, as `tipline serve` runs it), or one of the baselines.
 * It runs apart from the load generator so the two don't share one event loop
 * (on two cores, sharing would slow both sides and blur the comparison), and
 * so its memory can be watched on its own.
 *
 * Prints one JSON line, `{ "url": … }` or `{ "port": … }`, once it listens;
 * stops cleanly on SIGTERM.
 *
 *   node dist/bench/serve-target.js app DATA_DIR POW_DIFFICULTY
 *   node dist/bench/serve-target.js bare-insert DB_FILE
 *   node dist/bench/serve-target.js socket-to-file FILE
 */
import { startServer } from '../../server/cli/serve.ts';
import { startBareInsertServer } from './targets/bare-insert-server.ts';
import { startSocketToFileServer } from './targets/socket-to-file-server.ts';

const [mode, path, powDifficulty] = process.argv.slice(2);
if (!path) throw new Error('usage: serve-target.js app|bare-insert|socket-to-file PATH [POW_DIFFICULTY]');

let running: { close: () => Promise<void> };
if (mode === 'app') {
  // Logs go where `tipline serve` sends them (stderr), so their cost is counted.
  const server = await startServer({
    dataDir: path,
    port: 0,
    host: '127.0.0.1',
    powDifficulty: Number(powDifficulty ?? 0),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  running = server;
  console.log(JSON.stringify({ url: server.url }));
} else if (mode === 'bare-insert') {
  const server = await startBareInsertServer(path);
  running = server;
  console.log(JSON.stringify({ url: server.url }));
} else if (mode === 'socket-to-file') {
  const server = await startSocketToFileServer(path);
  running = server;
  console.log(JSON.stringify({ port: server.port }));
} else {
  throw new Error(`unknown mode ${mode}`);
}

process.once('SIGTERM', () => {
  void running.close().finally(() => process.exit(0));
});
