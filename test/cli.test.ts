/**
 * The `tipline` executable as an admin and a journalist use it: clear messages,
 * non-zero exits on bad input, never a stack trace, nothing half-written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { makeNewsroom, addTestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

let newsroom: TestNewsroom;

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

beforeAll(async () => {
  newsroom = await makeNewsroom();
});
afterAll(async () => newsroom.cleanup());

describe('tipline', () => {
  it('prints help with --help and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', 'admin init', 'journalist add', 'journalist fetch', 'journalist decrypt', 'journalist reply', 'journalist delete-thread', 'demo']) {
      expect(r.stdout).toContain(cmd);
    }
  });

  it('exits 2 with a message for an unknown command or a missing option', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const missing = await runCli(['admin', 'init', '--data', join(newsroom.root, 'x')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--signing-key is required');
    const bogus = await runCli(['journalist', 'fetch', '--nope']);
    expect(bogus.code).toBe(2);
    noStackTrace(bogus.stderr);
  });
});

describe('tipline admin', () => {
  it('init makes a 0700 data directory and a 0600 signing key, and prints the fingerprint', async () => {
    const data = join(newsroom.root, 'fresh');
    const key = join(newsroom.root, 'fresh.key');
    const r = await runCli(['admin', 'init', '--data', data, '--signing-key', key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/([0-9A-F]{4} ){9}[0-9A-F]{4}/);
    expect((await stat(data)).mode & 0o777).toBe(0o700);
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect((await stat(join(data, 'config.json'))).mode & 0o777).toBe(0o600);
    // The secret never lands in the data directory.
    const secret = JSON.parse(await readFile(key, 'utf8')).secretKey as string;
    for (const f of await readdir(data)) expect((await readFile(join(data, f))).toString('latin1')).not.toContain(secret);
  });

  it('init refuses to overwrite an existing key or data directory', async () => {
    const before = await readFile(newsroom.signingKeyFile, 'utf8');
    const again = await runCli(['admin', 'init', '--data', join(newsroom.root, 'other'), '--signing-key', newsroom.signingKeyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('refusing to overwrite');
    expect(await readFile(newsroom.signingKeyFile, 'utf8')).toBe(before);
    const sameData = await runCli(['admin', 'init', '--data', newsroom.dataDir, '--signing-key', join(newsroom.root, 'new.key')]);
    expect(sameData.code).toBe(1);
    expect(sameData.stderr).toContain('already initialised');
  });

  it('journalist add refuses a weak key with the reason, and changes nothing', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ email: 'weak@example.org' }], format: 'armored' });
    const file = join(newsroom.root, 'weak.asc');
    await writeFile(file, publicKey);
    const r = await runCli(['admin', 'journalist', 'add', '--data', newsroom.dataDir, '--signing-key', newsroom.signingKeyFile, '--name', 'Weak', '--key', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('RSA-2048');
    noStackTrace(r.stderr);
    const list = await runCli(['admin', 'journalist', 'list', '--data', newsroom.dataDir]);
    expect(list.stdout).not.toContain('Weak');
  });

  it('journalist add refuses a signing key from another newsroom', async () => {
    const other = await makeNewsroom();
    try {
      const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'x@example.org' }], format: 'armored' });
      const file = join(newsroom.root, 'x.asc');
      await writeFile(file, publicKey);
      const r = await runCli(['admin', 'journalist', 'add', '--data', newsroom.dataDir, '--signing-key', other.signingKeyFile, '--name', 'X', '--key', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is not the signing key');
    } finally {
      await other.cleanup();
    }
  });

  it('journalist add prints a token once; list shows the journalist; remove revokes', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'dee@example.org' }], format: 'armored' });
    const file = join(newsroom.root, 'dee.asc');
    await writeFile(file, publicKey);
    const add = await runCli(['admin', 'journalist', 'add', '--data', newsroom.dataDir, '--signing-key', newsroom.signingKeyFile, '--name', 'Dee', '--key', file]);
    expect(add.code).toBe(0);
    const token = /tl_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{43}/.exec(add.stdout)![0];
    expect((await runCli(['admin', 'journalist', 'list', '--data', newsroom.dataDir])).stdout).toContain('Dee');
    // The token is nowhere on disk: only its hash is.
    const db = await readFile(join(newsroom.dataDir, 'tipline.db'));
    const wal = await readFile(join(newsroom.dataDir, 'tipline.db-wal')).catch(() => Buffer.alloc(0));
    // The secret is the last 43 characters (`tl_<id 22>_<secret 43>`; both parts may hold '_' themselves).
    const secret = token.slice(-43);
    expect(secret).toHaveLength(43);
    expect(db.includes(Buffer.from(secret))).toBe(false);
    expect(wal.includes(Buffer.from(secret))).toBe(false);
    const dup = await runCli(['admin', 'journalist', 'add', '--data', newsroom.dataDir, '--signing-key', newsroom.signingKeyFile, '--name', 'Dee', '--key', file]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const rm = await runCli(['admin', 'journalist', 'remove', '--data', newsroom.dataDir, '--signing-key', newsroom.signingKeyFile, '--name', 'Dee']);
    expect(rm.code).toBe(0);
    expect((await runCli(['admin', 'journalist', 'list', '--data', newsroom.dataDir])).stdout).not.toContain('Dee');
    const gone = await runCli(['admin', 'journalist', 'remove', '--data', newsroom.dataDir, '--signing-key', newsroom.signingKeyFile, '--name', 'Dee']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no journalist named');
  });

  it('admin commands on a folder that is not a data directory say how to make one', async () => {
    const r = await runCli(['admin', 'journalist', 'list', '--data', join(newsroom.root, 'nowhere')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tipline admin init');
  });

  describe('a DATABASE_URL set on the machine for another application', () => {
    const other = 'postgres://otherapp:hunter2-secret@127.0.0.1:1/otherapp';
    const refusedWith = async (data: string) => {
      const commands = [
        { args: ['serve', '--data', data, '--port', '0'], env: { DATABASE_URL: other } },
        { args: ['admin', 'journalist', 'list', '--data', data], env: { DATABASE_URL: other } },
        { args: ['admin', 'journalist', 'list', '--data', data, '--database-url', other], env: {} },
        { args: ['admin', 'doctor', '--data', data], env: { DATABASE_URL: other } },
      ];
      for (const { args, env } of commands) {
        const r = await runCli(args, env);
        const text = r.stderr + r.stdout;
        expect(r.code, args.join(' ')).toBe(1);
        // Refused before any connection: nothing listens on port 1, which would be a different error.
        expect(text).toMatch(/config\.json says this newsroom's database is SQLite \(.*tipline\.db\), but a PostgreSQL database is given \(postgres:\/\/otherapp@127\.0\.0\.1:1\/otherapp, /);
        expect(text).toMatch(/unset it for tipline \(e\.g\. env -u DATABASE_URL/);
        expect(text).not.toContain('hunter2');
        noStackTrace(text);
      }
      const plain = await runCli(['admin', 'journalist', 'list', '--data', data]);
      expect(plain.code, plain.stderr).toBe(0);
    };

    it('init records SQLite in config.json, and serve and admin commands then refuse a PostgreSQL URL', async () => {
      const data = join(newsroom.root, 'on-sqlite');
      const init = await runCli(['admin', 'init', '--data', data, '--signing-key', join(newsroom.root, 'on-sqlite.key')]);
      expect(init.code, init.stderr).toBe(0);
      expect(JSON.parse(await readFile(join(data, 'config.json'), 'utf8'))).toMatchObject({ storage: 'sqlite' });
      await refusedWith(data);
    });

    it('takes a config.json without storage (made by an earlier version) as SQLite, and an unknown one as an error', async () => {
      const data = join(newsroom.root, 'older');
      expect((await runCli(['admin', 'init', '--data', data, '--signing-key', join(newsroom.root, 'older.key')])).code).toBe(0);
      const configFile = join(data, 'config.json');
      const { storage: _, ...older } = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
      await writeFile(configFile, JSON.stringify(older));
      await refusedWith(data);
      await writeFile(configFile, JSON.stringify({ ...older, storage: 'mysql' }));
      const unknown = await runCli(['admin', 'journalist', 'list', '--data', data]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/config\.json has an unknown storage \(it must be "sqlite" or "postgres"\)/);
    });
  });
});

describe('tipline journalist', () => {
  it('fetch is incremental, and decrypt never overwrites and leaves nothing half-written', async () => {
    const ana = await addTestJournalist(newsroom, 'Ana');
    // Tips arrive through the no-JavaScript form, with its token; its wait is played out in browser-submit and form-token.
    const server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
    try {
      const tokenFile = join(newsroom.root, 'ana.token');
      await writeFile(tokenFile, `${ana.token}\n`, { mode: 0o600 });
      const inbox = join(newsroom.root, 'inbox');
      const post = (m: string) => noJsPoster((p, init) => fetch(`${server.url}${p}`, init))('/submit', `message=${encodeURIComponent(m)}`);
      expect((await post('one')).status).toBe(201);

      const first = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('1 new tip(s)');
      expect((await post('two')).status).toBe(201);
      const second = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', tokenFile, '--out', inbox]);
      expect(second.stdout).toContain('1 new tip(s) fetched');
      expect(second.stdout).toContain('1 already there');
      expect((await readdir(inbox)).filter((f) => f.endsWith('.gpg'))).toHaveLength(2);

      const keyFile = join(newsroom.root, 'ana-secret.asc');
      await writeFile(keyFile, ana.armoredPrivateKey, { mode: 0o600 });
      const out = join(newsroom.root, 'decrypted');
      const dec = await runCli(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
      expect(dec.code).toBe(0);
      // Two no-JS tips are two conversations: one folder each, holding thread.json and the first tip.
      const threads = await readdir(out);
      expect(threads).toHaveLength(2);
      const folders: string[] = [];
      for (const thread of threads) {
        expect(thread).toMatch(/^[a-z]+-[a-z]+-[0-9a-f]{4}$/);
        const inside = (await readdir(join(out, thread))).sort();
        expect(inside).toHaveLength(2);
        expect(inside[0]).toMatch(/^001-tip-[A-Za-z0-9_-]{22}$/);
        expect(inside[1]).toBe('thread.json');
        folders.push(join(out, thread, inside[0]!));
      }
      const messages = await Promise.all(folders.map((f) => readFile(join(f, 'message.txt'), 'utf8')));
      expect(messages.sort()).toEqual(['one', 'two']);
      const meta = JSON.parse(await readFile(join(folders[0]!, 'meta.json'), 'utf8'));
      expect(meta.encryptedBy).toBe('server');
      expect(meta.receivedDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);

      // Mark a decrypted file; a second run must leave it alone.
      await writeFile(join(folders[0]!, 'message.txt'), 'journalist notes');
      const again = await runCli(['journalist', 'decrypt', '--key', keyFile, '--in', inbox, '--out', out]);
      expect(again.stdout).toContain('2 already decrypted');
      expect(await readFile(join(folders[0]!, 'message.txt'), 'utf8')).toBe('journalist notes');

      // Someone else's key: every tip fails, the exit is non-zero, and no folder (or partial folder) appears.
      const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'eve@example.org' }], format: 'armored' });
      const eveKey = join(newsroom.root, 'eve.asc');
      await writeFile(eveKey, privateKey);
      const eveOut = join(newsroom.root, 'eve-out');
      const eve = await runCli(['journalist', 'decrypt', '--key', eveKey, '--in', inbox, '--out', eveOut]);
      expect(eve.code).toBe(1);
      expect(eve.stdout).toContain('not encrypted to your key');
      noStackTrace(eve.stderr);
      expect(await readdir(eveOut)).toEqual([]);

      // A bad token: a clear message, non-zero, nothing written.
      const badToken = join(newsroom.root, 'bad.token');
      await writeFile(badToken, 'tl_AAAAAAAAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      const emptyInbox = join(newsroom.root, 'inbox-bad');
      const bad = await runCli(['journalist', 'fetch', '--server', server.url, '--token-file', badToken, '--out', emptyInbox]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('refused the token');
      expect(await readdir(emptyInbox)).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('fetch explains an unreachable server and a bad URL', async () => {
    const tokenFile = join(newsroom.root, 't');
    // Well-formed (the format is checked first, see token-file.test.ts), but unknown.
    await writeFile(tokenFile, `tl_${'A'.repeat(22)}_${'A'.repeat(43)}`);
    const bad = await runCli(['journalist', 'fetch', '--server', 'not a url', '--token-file', tokenFile, '--out', join(newsroom.root, 'o')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--server must be a URL');
    const down = await runCli(['journalist', 'fetch', '--server', 'http://127.0.0.1:9', '--token-file', tokenFile, '--out', join(newsroom.root, 'o')]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach');
    noStackTrace(down.stderr);
  });

  it('decrypt says so when the key file is not a key', async () => {
    const f = join(newsroom.root, 'notakey.asc');
    await writeFile(f, 'hello');
    await mkdir(join(newsroom.root, 'in'), { recursive: true });
    const r = await runCli(['journalist', 'decrypt', '--key', f, '--in', join(newsroom.root, 'in'), '--out', join(newsroom.root, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot use the secret key');
  });
});
