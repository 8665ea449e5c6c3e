/**
 * Runs `tipline serve` as a child process on 127.0.0.1 with a free port, the way
 * an admin would, and collects everything it prints (for the privacy scans).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../cli/paths.ts';
import { databaseEnvFor } from './newsroom.ts';

export type ServerProcess = { url: string; output: () => string; child: ChildProcess; stop: () => Promise<void> };

export const TIPLINE_BIN = join(packageRoot(), 'bin', 'tipline.js');

export async function startServerProcess(dataDir: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [TIPLINE_BIN, 'serve', '--data', dataDir, '--port', '0', '--host', '127.0.0.1', ...extraArgs], {
    env: { ...process.env, ...databaseEnvFor(dataDir), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 15_000);
    const check = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs the `tipline` CLI and returns its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const dataDir = args[args.indexOf('--data') + 1];
    const database = args.includes('--data') && dataDir ? databaseEnvFor(dataDir) : {};
    const child = spawn(process.execPath, [TIPLINE_BIN, ...args], { env: { ...process.env, ...database, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
