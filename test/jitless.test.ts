/**
 * Login without the JIT (Tor Browser at "Safer"): derive the codename's keys
 * and open a reply under `node --jitless`. The test checks it works; the time
 * is printed as a figure, not asserted (benchmarks live in `npm run bench`).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../cli/paths.ts';

const run = promisify(execFile);

describe('codename login under node --jitless', () => {
  it('derives the keys and opens a reply', async () => {
    const { stdout } = await run(process.execPath, ['--jitless', join(packageRoot(), 'dist', 'login-timing.js'), '3']);
    const result = JSON.parse(stdout.trim()) as { ok: boolean; runs: number; medianMs: number; jitless: boolean };
    expect(result.jitless).toBe(true);
    expect(result.ok).toBe(true);
    expect(result.runs).toBe(3);
    console.log(`[jitless] codename login (parse, HKDF, X25519, open reply): median ${result.medianMs} ms under --jitless (target < 1000 ms)`);
  });
});
