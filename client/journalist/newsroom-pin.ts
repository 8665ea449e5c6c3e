/**
 * Trust on first use for the newsroom key, on the journalist's machine.
 *
 * The first `fetch` into an inbox folder saves the server's signed manifest as
 * `manifest.json` and pins the newsroom key it names in `newsroom-key.txt`.
 * From then on every `fetch` and every `reply` checks the server's manifest
 * against that pinned key, and against the version last saved, so a server
 * can't slip in another newsroom key or roll the journalist list back to keys
 * that were removed. A changed key is refused loudly: it means the server was
 * compromised or the newsroom rotated its key, and only a person who checks the
 * fingerprint out of band can tell which.
 *
 * The pin lives in the inbox folder (the one `fetch --out` writes), next to the
 * ciphertext it protects; `decrypt` records that folder in each conversation's
 * `thread.json`, so `reply` finds it.
 *
 * @module
 * @example
 * const { manifest, pinnedNow } = await checkServerManifest(inbox, await api.getManifest(), { onFirstUse: 'pin' });
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hex } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { ManifestError, newsroomFingerprint, verifyManifest, type Manifest } from '../../crypto/manifest.ts';
import { exists, writeFileAtomic } from './files.ts';
import { rememberKeys } from './known-keys.ts';

export const PINNED_KEY_FILE = 'newsroom-key.txt';
export const MANIFEST_FILE = 'manifest.json';

const KEY_RE = /^[0-9a-f]{64}$/;

/** The server's manifest can't be trusted; the message says what it means and what to do. */
export class NewsroomKeyError extends Error {
  override name = 'NewsroomKeyError';
  constructor(
    readonly code: ManifestError['code'] | 'no-pin' | 'damaged-pin',
    message: string,
  ) {
    super(message);
  }
}

export type Pin = { publicKey: Uint8Array; file: string; lastVersion: number | undefined };

/** The key pinned in `inboxDir`, with the last manifest version seen there; undefined when nothing is pinned yet. */
export async function readPin(inboxDir: string): Promise<Pin | undefined> {
  const file = join(inboxDir, PINNED_KEY_FILE);
  if (!(await exists(file))) return undefined;
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1 || !KEY_RE.test(lines[0]!)) {
    throw new NewsroomKeyError('damaged-pin', `the pinned newsroom key in ${file} is damaged (expected one line of 64 hex digits). Restore it from a backup, or ask your admin for the newsroom key.`);
  }
  return { publicKey: hex.decode(lines[0]!), file, lastVersion: await lastSeenVersion(inboxDir) };
}

async function lastSeenVersion(inboxDir: string): Promise<number | undefined> {
  const file = join(inboxDir, MANIFEST_FILE);
  if (!(await exists(file))) return undefined;
  try {
    const version = (JSON.parse(await readFile(file, 'utf8')) as { manifest?: { version?: unknown } }).manifest?.version;
    if (Number.isSafeInteger(version)) return version as number;
  } catch {
    /* reported below */
  }
  throw new NewsroomKeyError('damaged-pin', `${file} is damaged. Move it aside and fetch again (the pinned key in ${PINNED_KEY_FILE} still protects you).`);
}

export type CheckedManifest = {
  /** The manifest, checked against the pinned key; undefined when the server has none valid (see `warning`). */
  manifest: Manifest | undefined;
  /** Set when the server's manifest was signed by a newer newsroom key, reached through signed rotations: the pin moved to it. */
  rotatedFrom?: string;
  /** True when this call pinned the key (first use of this inbox folder). */
  pinnedNow: boolean;
  fingerprint: string | undefined;
  /** Set when the server's manifest could not be checked but that is no reason to stop (it expired, or there is none). */
  warning?: string;
};

/**
 * Checks the server's signed manifest (`signed`, as the server sent it, or
 * undefined when the server had none) against the key pinned in `inboxDir`.
 *
 * - Nothing pinned: `onFirstUse: 'pin'` (fetch) verifies the manifest against
 *   the key it names and pins that key; `'refuse'` (reply) throws.
 * - A pinned key: the manifest must name that key, carry a valid signature from
 *   it, and have a version no lower than the one saved. A newer one replaces
 *   `manifest.json`.
 *
 * With `allowStale`, an expired or missing manifest gives a `warning` instead of
 * an error: reading tips needs no current key list, but a reply does.
 */
export async function checkServerManifest(
  inboxDir: string,
  signed: unknown,
  o: { onFirstUse: 'pin' | 'refuse'; allowStale?: boolean; today?: string },
): Promise<CheckedManifest> {
  const today = o.today ?? utcDay();
  const pin = await readPin(inboxDir);
  if (!pin && o.onFirstUse === 'refuse') {
    throw new NewsroomKeyError(
      'no-pin',
      `no newsroom key is pinned in ${inboxDir}: run \`tipline journalist fetch --out ${inboxDir}\` first (it pins the key on first use), or pass --inbox with your fetch folder.`,
    );
  }
  if (signed === undefined) {
    const why = 'the server has no valid journalist key list right now (an admin must add a journalist or renew the list)';
    if (o.allowStale) return { manifest: undefined, pinnedNow: false, fingerprint: pin && newsroomFingerprint(pin.publicKey), warning: `${why}; the newsroom key was not checked this time.` };
    throw new NewsroomKeyError('expired', `${why}. Nothing was sent.`);
  }
  const claimedKey = (signed as { manifest?: { newsroomKey?: unknown } } | null)?.manifest?.newsroomKey;
  if (typeof claimedKey !== 'string' || !KEY_RE.test(claimedKey)) {
    throw new NewsroomKeyError('malformed', 'REFUSING: the server sent a malformed manifest (no newsroom key in it). Tell your newsroom\'s admin.');
  }
  const trusted = pin?.publicKey ?? hex.decode(claimedKey);
  // Read before it is replaced: its keys go into known-keys.json with the new ones (a folder from before that file existed).
  const previous = pin ? await savedManifest(inboxDir, pin.publicKey) : undefined;
  let manifest: Manifest;
  try {
    manifest = verifyManifest(signed, trusted, { today, minVersion: pin?.lastVersion });
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    if (e.code === 'expired' && o.allowStale) {
      return { manifest: undefined, pinnedNow: false, fingerprint: newsroomFingerprint(trusted), warning: `the newsroom's journalist key list ${e.message.replace(/^the manifest /, '')}; ask your admin to renew it. Tips can still be fetched.` };
    }
    throw refusal(e, pin, claimedKey, inboxDir);
  }
  await rememberKeys(inboxDir, [previous, manifest]);
  const manifestFile = join(inboxDir, MANIFEST_FILE);
  if (pin?.lastVersion === undefined || manifest.version > pin.lastVersion) {
    await writeFileAtomic(manifestFile, `${JSON.stringify(signed, null, 2)}\n`);
  }
  if (!pin) {
    const fingerprint = newsroomFingerprint(trusted);
    await writeFileAtomic(
      join(inboxDir, PINNED_KEY_FILE),
      `# The newsroom key this folder trusts, pinned on first fetch (${today}).\n# Fingerprint: ${fingerprint}\n# Compare it with the fingerprint your newsroom publishes. Never edit this file to make an error go away.\n${claimedKey}\n`,
    );
    return { manifest, pinnedNow: true, fingerprint };
  }
  if (manifest.newsroomKey !== hex.encode(pin.publicKey)) {
    // verifyManifest walked a chain of signed rotations from the pinned key to this one. The
    // pin moves, and the old key is forgotten: a retired key (perhaps retired because it
    // leaked) must not keep the power to sign key lists this folder believes.
    const from = newsroomFingerprint(pin.publicKey);
    const fingerprint = newsroomFingerprint(hex.decode(manifest.newsroomKey));
    await writeFileAtomic(
      pin.file,
      `# The newsroom key this folder trusts. It moved on ${today} from ${from}, through a rotation signed by that key.\n# Fingerprint: ${fingerprint}\n# Compare it with the fingerprint your newsroom publishes. Never edit this file to make an error go away.\n${manifest.newsroomKey}\n`,
    );
    return { manifest, pinnedNow: false, fingerprint, rotatedFrom: from };
  }
  return { manifest, pinnedNow: false, fingerprint: newsroomFingerprint(trusted) };
}

/** The manifest saved in `inboxDir`, if its signature still checks against `pinnedKey` (dates aside: it may have expired since). */
async function savedManifest(inboxDir: string, pinnedKey: Uint8Array): Promise<Manifest | undefined> {
  try {
    const saved = JSON.parse(await readFile(join(inboxDir, MANIFEST_FILE), 'utf8')) as { manifest?: { issued?: unknown } };
    const issued = saved.manifest?.issued;
    return typeof issued === 'string' ? verifyManifest(saved, pinnedKey, { today: issued }) : undefined;
  } catch {
    return undefined;
  }
}

function refusal(e: ManifestError, pin: Pin | undefined, claimedKey: string, inboxDir: string): NewsroomKeyError {
  const pinned = pin ? `pinned in ${pin.file}` : 'it names';
  switch (e.code) {
    case 'wrong-key':
      return new NewsroomKeyError(
        'wrong-key',
        `REFUSING: the server's manifest is signed for a DIFFERENT newsroom key (${newsroomFingerprint(hex.decode(claimedKey))}) than the one ${pinned} (${newsroomFingerprint(pin!.publicKey)}). ` +
          'Either the server was compromised or the newsroom changed its key. Do not reply and do not trust this server until your admin confirms the new fingerprint out of band; ' +
          `only then move ${PINNED_KEY_FILE} and ${MANIFEST_FILE} out of ${inboxDir} and fetch again to pin the new key.`,
      );
    case 'bad-signature':
      return new NewsroomKeyError(
        'bad-signature',
        `REFUSING: the server's manifest is not signed by the newsroom key ${pinned}. Someone may have tampered with the server. Do not reply; tell your newsroom's admin.`,
      );
    case 'rolled-back':
      return new NewsroomKeyError(
        'rolled-back',
        `REFUSING: the server offers an OLDER journalist key list than this folder has seen (${e.message}). An old list can hold keys that were removed. Do not reply; tell your newsroom's admin.`,
      );
    case 'expired':
      return new NewsroomKeyError('expired', `the newsroom's journalist key list ${e.message.replace(/^the manifest /, '')}; ask your admin to renew it before replying. Nothing was sent.`);
    default:
      return new NewsroomKeyError(e.code, `REFUSING: the server's manifest can't be trusted (${e.message}). Tell your newsroom's admin.`);
  }
}
