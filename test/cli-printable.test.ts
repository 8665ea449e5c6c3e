/**
 * A hostile server's words on the journalist's terminal: `tipline journalist
 * fetch` against a server on 127.0.0.1 whose error message is full of escape
 * sequences (clear screen, set title, carriage return, a right-to-left
 * override) prints the message with none of them, in one clear line, and
 * exits non-zero.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from './helpers/server-process.ts';

let server: Server;
let dir: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'x', message: '\x1b[2J\x1b]0;tipline\x07\r\x9b1mAll tips verified OK\u202e' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(join(tmpdir(), 'tipline-printable-'));
  await writeFile(join(dir, 'token'), 'tl_' + '0'.repeat(22) + '_' + '0'.repeat(43) + '\n', { mode: 0o600 });
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

it('fetch prints a hostile error message without terminal controls, and fails', async () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await runCli(['journalist', 'fetch', '--server', url, '--token-file', join(dir, 'token'), '--out', join(dir, 'inbox')]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('All tips verified OK');
  expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
