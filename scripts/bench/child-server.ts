/**
 * Starts serve-target.js (the real server or a baseline) as a child process on
 * 127.0.0.1 and waits until it listens. Its stderr is kept (the last few KiB)
 * so a failure can say why; its pid lets the upload section watch its memory.
 *
 * @example
 * const server = await startChildServer(['app', dataDir, '4']);
 * await fetch(`${server.url}/healthz`);
 * await server.stop();
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ChildServer = { url: string; port: number; pid: number; stderrTail: () => string; stop: () => Promise<void> };

const SERVE_TARGET = fileURLToPath(new URL('./serve-target.js', import.meta.url));
const KEEP_STDERR = 4096;

/** `nodeArgs` go to node itself (e.g. `--cpu-prof`, for `npm run bench -- --cpu-prof DIR`). */
export async function startChildServer(args: string[], o: { nodeArgs?: string[]; startTimeoutMs?: number } = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), SERVE_TARGET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-KEEP_STDERR);
  });
  const stopped = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ url?: string; port?: number }>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve-target ${args[0]} did not start: ${stderr.trim()}`));
    }, o.startTimeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { url?: string; port?: number });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve-target ${args[0]} exited with ${code}: ${stderr.trim()}`));
    });
  });
  const port = ready.port ?? Number(new URL(ready.url!).port);
  return {
    url: ready.url ?? `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stderrTail: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await stopped;
        clearTimeout(forced);
      }
    },
  };
}
