/**
 * `tipline verify` as a function: checks a running tip line against an asset
 * lock and a newsroom trust anchor, and says what it found.
 *
 * 1. The site (check-site.ts): pages, scripts, chunks, stylesheets, against the lock.
 * 2. The manifest (check-manifest.ts): signature from the trust anchor, expiry,
 *    and no rollback below the version in the state.
 * 3. What ties them together: the newsroom key embedded in the pages (the key
 *    the page's own script checks the manifest against) must be the one that
 *    signed the manifest, and the landing page must show its fingerprint;
 *    the footer's lock hash must be the lock's.
 * 4. Changes since the last run, and the new state to remember.
 *
 * @example
 * const report = await verifyServer({ server: new URL(url), get: httpGetter(), lock, lockSha256, fingerprint, today: utcDay() });
 * report.findings.filter((f) => f.level === 'problem'); // empty when the server serves what was published
 */
import type { AssetLock } from '../../crypto/asset-lock.ts';
import { hex } from '../../crypto/bytes.ts';
import { newsroomFingerprint } from '../../crypto/manifest.ts';
import { checkManifest } from './check-manifest.ts';
import { checkSite } from './check-site.ts';
import { problemsByPage, type Finding } from './findings.ts';
import type { HttpGet } from './http-get.ts';
import { WATCH_STATE_FORMAT, type WatchState } from './watch-state.ts';

export const MANIFEST_PATH = '/api/v1/manifest';

export type VerifyOptions = {
  server: URL;
  get: HttpGet;
  lock: AssetLock;
  /** SHA-256 of the lock file's bytes: what the newsroom publishes, and what the footer should show. */
  lockSha256: string;
  /** The published newsroom-key fingerprint; without it, the key pinned in `state`. */
  fingerprint?: string | undefined;
  state?: WatchState | undefined;
  /** YYYY-MM-DD, UTC. */
  today: string;
};

export type VerifyReport = {
  findings: Finding[];
  /** What to remember for the next run; undefined when the manifest did not verify. */
  state?: WatchState;
};

export async function verifyServer(o: VerifyOptions): Promise<VerifyReport> {
  const site = await checkSite(o.get, o.server, o.lock);
  const findings = [...site.findings];
  const problem = (message: string) => findings.push({ level: 'problem', message });

  const shownLockHash = mostCommon(site.shownLockHashes.map((s) => s.hash));
  findings.push(
    ...problemsByPage(
      site.shownLockHashes.filter((s) => s.hash !== o.lockSha256).map(({ where, hash }) => ({ where, message: `shows assets.lock.json SHA-256 ${hash}, but the expected lock's is ${o.lockSha256}` })),
    ),
  );
  if (site.shownLockHashes.length === 0) findings.push({ level: 'warning', message: 'the pages show no assets.lock.json hash (a server built without one, or an older release)' });

  let signed: unknown;
  try {
    const response = await o.get(new URL(MANIFEST_PATH, o.server).href);
    if (response.status !== 200) throw new Error(`answered ${response.status}`);
    signed = JSON.parse(new TextDecoder().decode(response.body));
  } catch (e) {
    problem(`manifest: GET ${MANIFEST_PATH} failed (${(e as Error).message})`);
    return { findings };
  }
  const checked = checkManifest(signed, {
    fingerprint: o.fingerprint,
    newsroomKey: o.fingerprint === undefined ? o.state?.newsroomKey : undefined,
    minVersion: o.state?.manifestVersion,
    today: o.today,
  });
  findings.push(...checked.findings);

  const manifest = checked.manifest;
  if (!manifest) return { findings };

  // The page's script trusts the key in its <meta>: if that isn't the newsroom's, a source's browser would accept another manifest.
  const expectedFingerprint = newsroomFingerprint(hex.decode(manifest.newsroomKey));
  findings.push(
    ...problemsByPage([
      ...site.embeddedKeys
        .filter(({ key }) => key !== manifest.newsroomKey)
        .map(({ where, key }) => ({ where, message: `embeds newsroom key ${describeKey(key)} for its script to trust, not ${expectedFingerprint}, which signed the manifest` })),
      ...site.shownFingerprints
        .filter(({ fingerprint }) => fingerprint !== expectedFingerprint)
        .map(({ where, fingerprint }) => ({ where, message: `shows newsroom fingerprint ${fingerprint}, not ${expectedFingerprint}, which signed the manifest` })),
    ]),
  );

  const state: WatchState = {
    format: WATCH_STATE_FORMAT,
    server: o.server.origin,
    manifestVersion: Math.max(manifest.version, o.state?.manifestVersion ?? 0),
    newsroomKey: manifest.newsroomKey,
    recipients: manifest.recipients.map((r) => ({ name: r.name, fingerprint: r.fingerprint })),
    ...(shownLockHash ? { assetLockSha256: shownLockHash } : {}),
    checked: o.today,
  };
  findings.push(...changesSince(o.state, state));
  return { findings, state };
}

/** What changed since the last run, as `change` findings; a first run says what it starts from. */
function changesSince(before: WatchState | undefined, now: WatchState): Finding[] {
  const change = (message: string): Finding => ({ level: 'change', message });
  if (!before) return [change(`first run: remembering manifest version ${now.manifestVersion}, newsroom key ${newsroomFingerprint(hex.decode(now.newsroomKey))} and ${now.recipients.length} recipient(s)`)];
  const out: Finding[] = [];
  if (now.manifestVersion > before.manifestVersion) out.push(change(`manifest version ${before.manifestVersion} → ${now.manifestVersion}`));
  if (now.newsroomKey !== before.newsroomKey) {
    out.push(change(`newsroom key ${newsroomFingerprint(hex.decode(before.newsroomKey))} → ${newsroomFingerprint(hex.decode(now.newsroomKey))}`));
  }
  const label = (r: { name: string; fingerprint: string }) => `${r.name} (${r.fingerprint})`;
  const beforeSet = new Set(before.recipients.map(label));
  const nowSet = new Set(now.recipients.map(label));
  for (const r of nowSet) if (!beforeSet.has(r)) out.push(change(`recipient added: ${r}`));
  for (const r of beforeSet) if (!nowSet.has(r)) out.push(change(`recipient removed: ${r}`));
  if (now.assetLockSha256 && before.assetLockSha256 && now.assetLockSha256 !== before.assetLockSha256) {
    out.push(change(`new release: assets.lock.json SHA-256 ${before.assetLockSha256} → ${now.assetLockSha256}`));
  }
  return out;
}

function describeKey(key: string): string {
  return /^[0-9a-f]{64}$/.test(key) ? newsroomFingerprint(hex.decode(key)) : JSON.stringify(key.slice(0, 80));
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}
