/**
 * `tipline verify`: anyone (a journalist, the newsroom's security desk, an
 * outside watchdog) checks from one command that a tip line serves exactly the
 * published code and keys. Exit 0 when it does, 1 on any mismatch, 2 for a
 * usage mistake. With `--quiet` (for cron) it prints only problems, warnings
 * and changes, so silence means "as before, and as published".
 */
import { readFile } from 'node:fs/promises';
import { parseAssetLock, sha256Hex } from '../../crypto/asset-lock.ts';
import { utcDay } from '../../crypto/day.ts';
import { parseOptions, UsageError } from '../../cli/args.ts';
import { assetLockFile } from '../../cli/paths.ts';
import { normaliseFingerprint } from './check-manifest.ts';
import { httpGetter } from './http-get.ts';
import { parseSocksProxy, type SocksError, type SocksProxy } from './socks5.ts';
import { verifyServer } from './verify-server.ts';
import { readWatchState, writeWatchState } from './watch-state.ts';

export const VERIFY_USAGE = `  tipline verify --server URL [--expect assets.lock.json] [--newsroom-fingerprint "XXXX XXXX …"]
                 [--state FILE] [--socks HOST:PORT] [--quiet]
      Check a running tip line from outside: every source page in every language, every script,
      chunk and stylesheet, byte for byte against the asset lock (default: the one this copy of
      tipline was built with), and the manifest's signature against the newsroom's published
      fingerprint. --state FILE remembers the manifest version (a lower one is a rollback) and
      the newsroom key (the anchor on later runs without --newsroom-fingerprint).
      --socks goes through a SOCKS5 proxy, e.g. Tor's 127.0.0.1:9050 for an onion address.
      --quiet prints only problems, warnings and changes (for cron). Exit 1 on any mismatch.`;

const OPTIONS = {
  server: { type: 'string', required: true },
  expect: { type: 'string' },
  'newsroom-fingerprint': { type: 'string' },
  state: { type: 'string' },
  socks: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export async function verifyCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const o = parseOptions(argv, OPTIONS, VERIFY_USAGE);
  const server = serverUrl(o.server!);
  const fingerprint = o['newsroom-fingerprint'];
  if (fingerprint !== undefined && !normaliseFingerprint(fingerprint)) {
    throw new UsageError(`--newsroom-fingerprint must be 40 hex digits (10 groups of 4), as the landing page shows it; got "${fingerprint}"`);
  }
  let socks: SocksProxy | undefined;
  try {
    socks = o.socks === undefined ? undefined : parseSocksProxy(o.socks);
  } catch (e) {
    throw new UsageError((e as SocksError).message);
  }
  const state = o.state === undefined ? undefined : await readWatchState(o.state);
  if (fingerprint === undefined && !state) {
    throw new UsageError('give --newsroom-fingerprint, as the newsroom publishes it (later runs with --state can rely on the key remembered there)');
  }
  const lockFile = o.expect ?? assetLockFile();
  let lockBytes: Uint8Array;
  try {
    lockBytes = new Uint8Array(await readFile(lockFile));
  } catch {
    throw new UsageError(o.expect === undefined ? `this copy of tipline has no ${lockFile}; run npm run build, or give --expect FILE` : `cannot read the asset lock ${lockFile}`);
  }
  const lock = parseAssetLock(lockBytes);
  const lockSha256 = sha256Hex(lockBytes);

  const report = await verifyServer({ server, get: httpGetter({ socks }), lock, lockSha256, fingerprint, state, today: utcDay() });
  if (o.state !== undefined && report.state) await writeWatchState(o.state, report.state);

  const problems = report.findings.filter((f) => f.level === 'problem').length;
  if (!o.quiet) {
    out(`tipline verify ${server.origin}${socks ? ` (through SOCKS5 ${o.socks})` : ''}`);
    out(`  asset lock: ${lockFile} (release ${lock.release}, SHA-256 ${lockSha256})`);
    out(`  newsroom key: ${fingerprint !== undefined ? `fingerprint ${normaliseFingerprint(fingerprint)}` : `pinned in ${o.state}`}`);
  }
  for (const f of report.findings) if (!o.quiet || f.level !== 'info') out(`${f.level}: ${f.message}`);
  if (problems > 0) out(`FAILED: ${problems} problem(s); this server does not serve exactly what was published.`);
  else if (!o.quiet) out('OK: this server serves exactly the locked assets, and a manifest signed by the newsroom key.');
  return problems > 0 ? 1 : 0;
}

function serverUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--server must be a URL like http://abc…xyz.onion; got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server must be an http:// or https:// URL; got "${text}"`);
  return url;
}
