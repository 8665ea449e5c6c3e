/**
 * The demo prints commands a newcomer copies as they are, often into another
 * folder. `npx tipline` there asks the npm registry for a package named
 * `tipline` (unclaimed: anyone could publish one and receive the token and key
 * paths), so the demo prints this checkout's own `bin/tipline.js` by absolute
 * path. The printed fetch and decrypt commands are run from an unrelated folder
 * with npm and npx off PATH, and work.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../cli/paths.ts';
import { TIPLINE_BIN } from './helpers/server-process.ts';

const run = promisify(execFile);
let elsewhere: string;
let demo: ReturnType<typeof spawn> | undefined;

afterAll(async () => {
  if (demo && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo!.once('exit', resolve));
    demo.kill('SIGINT');
    await exited;
  }
  if (elsewhere) await rm(elsewhere, { recursive: true, force: true });
});

describe('tipline demo', () => {
  it('prints commands that run this checkout by path, never npx, and they work from any folder', async () => {
    demo = spawn(process.execPath, [TIPLINE_BIN, 'demo', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    demo.stdout!.on('data', (d) => (text += d));
    demo.stderr!.on('data', (d) => (text += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start:\n${text}`)), 60_000);
      demo!.stdout!.on('data', () => {
        if (text.includes('Press Ctrl-C to stop')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(text).not.toMatch(/\bnpx\b/);
    const bin = join(packageRoot(), 'bin', 'tipline.js');
    const command = (name: string) => {
      const line = text.split('\n').find((l) => l.trim().startsWith(`node ${bin} journalist ${name} `));
      expect(line, `the demo prints a ${name} command`).toBeDefined();
      return line!.trim().split(/\s+/);
    };
    elsewhere = await mkdtemp(join(tmpdir(), 'tipline-elsewhere-'));
    // No npm or npx reachable: the printed command must not need them.
    const env = { PATH: '/usr/bin:/bin', HOME: elsewhere };
    const [node, ...fetchArgs] = command('fetch');
    expect(node).toBe('node');
    const fetched = await run(process.execPath, fetchArgs, { cwd: elsewhere, env });
    expect(fetched.stdout).toContain('pinned the newsroom key');
    const [, ...decryptArgs] = command('decrypt');
    const decrypted = await run(process.execPath, decryptArgs, { cwd: elsewhere, env });
    expect(decrypted.stdout).toContain('0 message(s) decrypted');
  }, 120_000);
});
