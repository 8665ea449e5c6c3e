/**
 * `npm run bench` works: every section runs at `--size small` (tiny sizes,
 * seconds in all) and the JSON has every section with every field of
 * DESIGN.md's contract. Figures are printed by the bench itself and never
 * checked here: timing on a shared machine says nothing about correctness.
 * A section may be n/a (Chromium or gpg missing), but then it must say why;
 * a section that failed is a failure here.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../cli/paths.ts';

const run = promisify(execFile);
const SECTIONS = ['submit', 'server-encrypt', 'upload', 'browser-encrypt', 'firefox-safer-upload', 'browser-upload', 'journalist', 'scale', 'jitless'];
const BENCH = join(packageRoot(), 'dist', 'bench', 'main.js');

describe('npm run bench -- --size small', () => {
  let dir: string;
  let stdout: string;
  let results: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tipline-bench-smoke-'));
    const json = join(dir, 'bench.json');
    ({ stdout } = await run(process.execPath, [BENCH, '--size', 'small', '--json', json], { maxBuffer: 16 * 1024 * 1024, timeout: 150_000 }));
    results = JSON.parse(await readFile(json, 'utf8')) as typeof results;
  }, 160_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reports every section, and nothing else', () => {
    expect(Object.keys(results).sort()).toEqual([...SECTIONS].sort());
  });

  it.each(SECTIONS)('%s has value, baseline, ratio, target and unit (or says why not)', (name) => {
    const r = results[name]!;
    for (const field of ['value', 'baseline', 'ratio', 'target', 'unit']) expect(r).toHaveProperty(field);
    expect(typeof r.target).toBe('string');
    expect(typeof r.unit).toBe('string');
    if (r.value === null) {
      // n/a: allowed only with the reason, and only for a section that can't run here, not one that broke.
      expect(typeof r.reason).toBe('string');
      expect((r.reason as string).length).toBeGreaterThan(0);
      expect(r.reason).not.toMatch(/^failed: /);
      expect(r.baseline).toBeNull();
      expect(r.ratio).toBeNull();
    } else {
      for (const field of ['value', 'baseline', 'ratio']) {
        expect(typeof r[field]).toBe('number');
        expect(Number.isFinite(r[field])).toBe(true);
      }
      expect(typeof r.meets).toBe('boolean');
    }
  });

  it('prints the same as a markdown table, a row per section', () => {
    const rows = stdout.split('\n').filter((l) => l.startsWith('| '));
    expect(rows[0]).toMatch(/^\| section \| value \| baseline \| ratio/);
    for (const name of SECTIONS) expect(rows.some((l) => l.startsWith(`| ${name} |`))).toBe(true);
  });

  it('refuses an unknown section with a clear message', async () => {
    const failed = await run(process.execPath, [BENCH, '--only', 'nope']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/no section "nope"; the sections are: submit, server-encrypt/);
  });
});
