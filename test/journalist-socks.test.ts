/**
 * `--socks` / TIPLINE_SOCKS on the journalist commands that talk to the
 * server, played against a recording SOCKS5 proxy on 127.0.0.1 that forwards
 * every onion name to the test server. The CLI runs with a DNS spy preloaded
 * (every dns.lookup/resolve call is written down): an `.onion` server without
 * a proxy is refused before anything, with no lookup; with a proxy, fetch,
 * reply, rekey and delete-thread all go through it, hand it the onion name
 * itself (address type 3), and look nothing up on this machine.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

const ONION = `${'tiplinetestonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'.slice(0, 56)}.onion`;

type Asked = { addressType: number; host: string; port: number };

/** A SOCKS5 proxy (no auth, CONNECT only) that records each request and connects it to `target` on 127.0.0.1. */
function recordingSocks(target: () => number): Promise<{ port: number; asked: Asked[]; close: () => Promise<void> }> {
  const asked: Asked[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'piping' = 'greeting';
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'greeting') {
        if (buffered.length < 2 || buffered.length < 2 + buffered[1]!) return;
        buffered = buffered.subarray(2 + buffered[1]!);
        client.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        if (buffered.length < 5) return;
        const type = buffered[3]!;
        const addressLength = type === 3 ? 1 + buffered[4]! : type === 1 ? 4 : 16;
        if (buffered.length < 4 + addressLength + 2) return;
        const host = type === 3 ? buffered.subarray(5, 5 + buffered[4]!).toString() : [...buffered.subarray(4, 4 + addressLength)].join('.');
        const port = buffered.readUInt16BE(4 + addressLength);
        asked.push({ addressType: type, host, port });
        const rest = buffered.subarray(4 + addressLength + 2);
        stage = 'piping';
        client.off('data', onData);
        if (type !== 3 || !host.endsWith('.onion')) {
          client.end(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0]));
          return;
        }
        const upstream = connect(target(), '127.0.0.1', () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
      }
    };
    client.on('data', onData);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        asked,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

let root: string;
let newsroom: TestNewsroom;
let ana: TestJournalist;
let server: ServerProcess;
let socks: Awaited<ReturnType<typeof recordingSocks>>;
let tokenFile: string;
let keyFile: string;
let dnsLog: string;
let spy: string;

/** Names this CLI run asked the resolver for (the spy's log). */
const lookedUp = async () => (await readFile(dnsLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['journalist', ...args], { NODE_OPTIONS: `--require ${spy}`, DNS_SPY_LOG: dnsLog, ...env });
const onionServer = ['--server', `http://${ONION}`];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-socks-'));
  dnsLog = join(root, 'dns.log');
  spy = join(root, 'dns-spy.cjs');
  // Wraps every way Node asks a resolver, before the CLI loads, and writes down the name asked for.
  await writeFile(
    spy,
    `const dns = require('node:dns'); const fs = require('node:fs');
const note = (name) => fs.appendFileSync(process.env.DNS_SPY_LOG, String(name) + '\\n');
for (const api of [dns, dns.promises]) for (const fn of ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname']) {
  const real = api[fn]; if (typeof real !== 'function') continue;
  api[fn] = function (name, ...rest) { note(name); return real.call(this, name, ...rest); };
}\n`,
  );
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  tokenFile = join(root, 'ana.token');
  keyFile = join(root, 'ana-secret.asc');
  await writeFile(tokenFile, `${ana.token}\n`, { mode: 0o600 });
  await writeFile(keyFile, ana.armoredPrivateKey, { mode: 0o600 });
  // Tips arrive through the no-JavaScript form, with its token; its wait is played out in browser-submit and form-token.
  server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0'], { TIPLINE_POW_DIFFICULTY: '0' });
  const serverPort = Number(new URL(server.url).port);
  socks = await recordingSocks(() => serverPort);
  const res = await noJsPoster((p, init) => fetch(`${server.url}${p}`, { ...init, redirect: 'manual' }))('/submit', `message=${encodeURIComponent('The office on Elm Street photographs every visitor.')}`);
  expect(res.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await socks?.close();
  await server?.stop();
  await newsroom?.cleanup();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('journalist commands through a SOCKS5 proxy', () => {
  it('refuses an .onion server without --socks before any lookup, saying to start Tor', async () => {
    const out = join(root, 'refused');
    for (const [sub, extra] of [
      ['fetch', ['--out', out]],
      ['delete-thread', ['--thread', 'a'.repeat(64)]],
      ['rekey', ['--key', keyFile, '--inbox', root]],
    ] as const) {
      const r = await cli([sub, ...onionServer, '--token-file', tokenFile, ...extra], { TIPLINE_SOCKS: '' });
      expect(r.code, `${sub}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain('start Tor and pass --socks 127.0.0.1:9050');
      expect(r.stderr).toContain('9150');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await lookedUp()).toEqual([]);
    expect(socks.asked).toEqual([]);
    await expect(readdir(out)).rejects.toThrow();
  });

  it('fetches through the proxy, which is handed the onion name itself; nothing is resolved here', async () => {
    const inbox = join(root, 'inbox');
    const r = await cli(['fetch', ...onionServer, '--token-file', tokenFile, '--out', inbox, '--socks', `127.0.0.1:${socks.port}`]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('1 new tip(s) fetched');
    expect(socks.asked.length).toBeGreaterThan(0);
    expect(socks.asked.every((a) => a.addressType === 3 && a.host === ONION && a.port === 80)).toBe(true);
    expect(await lookedUp()).toEqual([]);
  });

  it('replies, re-keys and deletes the conversation through TIPLINE_SOCKS too', async () => {
    const inbox = join(root, 'inbox');
    const read = join(root, 'read');
    const env = { TIPLINE_SOCKS: `127.0.0.1:${socks.port}` };
    expect((await cli(['decrypt', '--key', keyFile, '--in', inbox, '--out', read])).code).toBe(0);
    const [pseudonym] = await readdir(read);
    const tipFolder = (await readdir(join(read, pseudonym!))).find((n) => n.startsWith('001-tip-'))!;
    const tipId = tipFolder.slice('001-tip-'.length);

    let before = socks.asked.length;
    const reply = await cli(['reply', ...onionServer, '--token-file', tokenFile, '--in', read, '--tip', tipId, '--message', 'Thank you. When did it start?'], env);
    expect(reply, reply.stderr).toMatchObject({ code: 0 });
    expect(socks.asked.length).toBeGreaterThan(before);

    before = socks.asked.length;
    const rekey = await cli(['rekey', '--key', keyFile, ...onionServer, '--token-file', tokenFile, '--inbox', inbox], env);
    expect(rekey, rekey.stderr).toMatchObject({ code: 0 });
    expect(rekey.stdout).toContain('0 tip(s) re-keyed; 1 already current');
    expect(socks.asked.length).toBeGreaterThan(before);

    before = socks.asked.length;
    const del = await cli(['delete-thread', ...onionServer, '--token-file', tokenFile, '--thread', join(read, pseudonym!)], env);
    expect(del, del.stderr).toMatchObject({ code: 0 });
    expect(del.stdout).toContain('deleted conversation');
    expect(socks.asked.length).toBeGreaterThan(before);

    expect(socks.asked.every((a) => a.addressType === 3 && a.host === ONION)).toBe(true);
    expect(await lookedUp()).toEqual([]);
    // The server really lost the conversation: the tip list is empty now.
    const left = await fetch(`${server.url}/api/v1/journalist/tips`, { headers: { authorization: `Bearer ${ana.token}` } });
    expect(((await left.json()) as { tips: unknown[] }).tips).toEqual([]);
  });

  it('(control) the DNS spy does see the lookup of a name reached without a proxy', async () => {
    const r = await cli(['fetch', '--server', server.url.replace('127.0.0.1', 'localhost'), '--token-file', tokenFile, '--out', join(root, 'direct')]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(await lookedUp()).toContain('localhost');
  });

  it('refuses a --socks or TIPLINE_SOCKS that is not HOST:PORT, with a one-line usage error', async () => {
    const bad = await cli(['fetch', ...onionServer, '--token-file', tokenFile, '--out', join(root, 'x'), '--socks', '9050']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--socks must be HOST:PORT');
    const badEnv = await cli(['fetch', ...onionServer, '--token-file', tokenFile, '--out', join(root, 'x')], { TIPLINE_SOCKS: 'localhost' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('TIPLINE_SOCKS');
  });
});
