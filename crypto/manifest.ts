/**
 * The key manifest: the newsroom's signed list of journalist keys.
 *
 * Sources' browsers encrypt only to keys in a manifest whose Ed25519 signature
 * checks against the newsroom key they trust (shown as a fingerprint on the
 * landing page and, ideally, printed in the paper). The signature covers the
 * canonical JSON encoding (sorted keys, no whitespace) behind a domain-separation
 * prefix, so the same bytes are signed whoever serialises the object.
 *
 * @module
 * @example
 * import { generateNewsroomKey, signManifest, verifyManifest, newsroomFingerprint } from './manifest.ts';
 * const { secretKey, publicKey } = generateNewsroomKey();
 * const signed = signManifest({ format: 'tipline-manifest/1', version: 1, issued: '2026-11-28',
 *   expires: '2027-02-26', newsroomKey: hex.encode(publicKey), recipients: [], desks: [], rotations: [] }, secretKey);
 * verifyManifest(signed, publicKey, '2026-11-28'); // returns the manifest, or throws ManifestError
 * newsroomFingerprint(publicKey); // 'A1B2 C3D4 … (10 groups)'
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, base64, concatBytes, hex, utf8 } from './bytes.ts';
import { isDay } from './day.ts';

export const MANIFEST_FORMAT = 'tipline-manifest/1';
/** Days a manifest stays valid unless the admin says otherwise. */
export const DEFAULT_MANIFEST_DAYS = 90;
const SIGNING_CONTEXT = utf8.encode('tipline manifest v1\n');
const ROTATION_CONTEXT = utf8.encode('tipline newsroom key rotation v1\n');
const FINGERPRINT_CONTEXT = utf8.encode('tipline newsroom key v1\n');

export type ManifestRecipient = {
  /** Random id of the journalist on this server. */
  id: string;
  name: string;
  /** OpenPGP primary key fingerprint, lowercase hex. */
  fingerprint: string;
  /** The armored OpenPGP public key. */
  publicKey: string;
};

/** A group of recipients a source can address, e.g. "Investigations" or one named journalist. */
export type ManifestDesk = { id: string; name: string; recipients: string[] };

/**
 * One newsroom-key change: the old key signs the new key and the day, so a
 * client that trusts the old key can follow to the new one.
 */
export type KeyRotation = { from: string; to: string; day: string; signature: string };

export type Manifest = {
  format: typeof MANIFEST_FORMAT;
  /** Only ever goes up; clients refuse a lower one than they have seen. */
  version: number;
  issued: string;
  expires: string;
  /** Ed25519 public key of the newsroom, hex. */
  newsroomKey: string;
  recipients: ManifestRecipient[];
  /** Every recipient id appears in at least one desk; a tip to a desk is encrypted to exactly its recipients. */
  desks: ManifestDesk[];
  /** Oldest first: the chain from earlier newsroom keys to `newsroomKey`. */
  rotations: KeyRotation[];
};

export type SignedManifest = { manifest: Manifest; signature: string };

export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    readonly code: 'malformed' | 'wrong-key' | 'bad-signature' | 'bad-rotation' | 'expired' | 'not-yet-valid' | 'rolled-back',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Canonical JSON: object keys sorted, no whitespace, integers only. Refuses values
 * that JSON can't represent exactly (undefined, NaN, fractions, functions).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('canonical JSON allows only safe integers');
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode ${typeof value}`);
}

/** The exact bytes that get signed. */
export function manifestSigningBytes(manifest: Manifest): Uint8Array {
  return concatBytes(SIGNING_CONTEXT, utf8.encode(canonicalJson(manifest)));
}

export function generateNewsroomKey(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function newsroomPublicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(abytes(secretKey, 32, 'secretKey'));
}

/**
 * The newsroom key's fingerprint in a form people compare by eye or by phone:
 * the first 20 bytes of SHA-256(context ‖ key), as 10 groups of 4 uppercase hex digits.
 */
export function newsroomFingerprint(publicKey: Uint8Array): string {
  abytes(publicKey, 32, 'publicKey');
  const digest = hex.encode(sha256(concatBytes(FINGERPRINT_CONTEXT, publicKey)).subarray(0, 20)).toUpperCase();
  return digest.match(/.{4}/g)!.join(' ');
}

export function signManifest(manifest: Manifest, secretKey: Uint8Array): SignedManifest {
  abytes(secretKey, 32, 'secretKey');
  checkManifestShape(manifest);
  if (manifest.newsroomKey !== hex.encode(newsroomPublicKeyOf(secretKey))) {
    throw new ManifestError('wrong-key', 'the manifest names a different newsroom key than the one signing it');
  }
  return { manifest, signature: base64.encode(ed25519.sign(manifestSigningBytes(manifest), secretKey)) };
}

export type VerifyOptions = {
  /** Today, YYYY-MM-DD (UTC). */
  today: string;
  /** Refuse a manifest older than this version (the last one this client saw). */
  minVersion?: number;
};

/**
 * Checks a signed manifest against the newsroom public key the caller trusts,
 * and its dates against `today`. Returns the manifest; throws {@link ManifestError}.
 */
export function verifyManifest(signed: unknown, newsroomPublicKey: Uint8Array, options: VerifyOptions): Manifest {
  abytes(newsroomPublicKey, 32, 'newsroomPublicKey');
  if (typeof signed !== 'object' || signed === null) throw new ManifestError('malformed', 'manifest must be an object');
  const { manifest, signature } = signed as Partial<SignedManifest>;
  checkManifestShape(manifest);
  const signer = hex.decode(manifest.newsroomKey);
  if (manifest.newsroomKey !== hex.encode(newsroomPublicKey)) followRotations(manifest, hex.encode(newsroomPublicKey));
  let sig: Uint8Array;
  try {
    sig = base64.decode(String(signature));
  } catch {
    throw new ManifestError('malformed', 'signature is not base64');
  }
  let ok = false;
  try {
    ok = sig.length === 64 && ed25519.verify(sig, manifestSigningBytes(manifest), signer);
  } catch {
    ok = false;
  }
  if (!ok) throw new ManifestError('bad-signature', 'the manifest signature does not check against the newsroom key');
  if (options.today > manifest.expires) throw new ManifestError('expired', `the manifest expired on ${manifest.expires}`);
  // One day of slack for clocks on either side of midnight UTC.
  if (manifest.issued > options.today && manifest.issued > nextDay(options.today)) {
    throw new ManifestError('not-yet-valid', `the manifest is dated ${manifest.issued}, in the future`);
  }
  if (options.minVersion !== undefined && manifest.version < options.minVersion) {
    throw new ManifestError('rolled-back', `manifest version ${manifest.version} is older than version ${options.minVersion} seen before`);
  }
  return manifest;
}

/** The bytes an old newsroom key signs to hand over to a new one. */
export function rotationSigningBytes(to: string, day: string): Uint8Array {
  return concatBytes(ROTATION_CONTEXT, utf8.encode(`${to}\n${day}`));
}

/** The old key signs the new public key and the day: one link of the chain. */
export function signRotation(oldSecretKey: Uint8Array, newPublicKey: Uint8Array, day: string): KeyRotation {
  abytes(oldSecretKey, 32, 'oldSecretKey');
  abytes(newPublicKey, 32, 'newPublicKey');
  if (!isDay(day)) throw new RangeError('day must be YYYY-MM-DD');
  const to = hex.encode(newPublicKey);
  return { from: hex.encode(newsroomPublicKeyOf(oldSecretKey)), to, day, signature: base64.encode(ed25519.sign(rotationSigningBytes(to, day), oldSecretKey)) };
}

/**
 * Walks the rotation chain from the key a client trusts to the manifest's key,
 * checking every link's signature. Throws 'wrong-key' when the trusted key is
 * not in the chain, 'bad-rotation' when a link doesn't verify.
 */
function followRotations(manifest: Manifest, trusted: string): void {
  let current = trusted;
  const start = manifest.rotations.findIndex((r) => r.from === trusted);
  if (start < 0) throw new ManifestError('wrong-key', 'the manifest is for a different newsroom key than the one this page trusts');
  for (const link of manifest.rotations.slice(start)) {
    if (link.from !== current) throw new ManifestError('bad-rotation', 'the newsroom key rotation chain is broken');
    let ok = false;
    try {
      ok = ed25519.verify(base64.decode(link.signature), rotationSigningBytes(link.to, link.day), hex.decode(link.from));
    } catch {
      ok = false;
    }
    if (!ok) throw new ManifestError('bad-rotation', `the signature handing the newsroom key over on ${link.day} does not check`);
    current = link.to;
    if (current === manifest.newsroomKey) return;
  }
  throw new ManifestError('bad-rotation', 'the newsroom key rotation chain does not reach the current key');
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Structural check of a manifest (no signature). Throws {@link ManifestError} 'malformed'. */
export function checkManifestShape(m: unknown): asserts m is Manifest {
  const fail = (why: string): never => {
    throw new ManifestError('malformed', `malformed manifest: ${why}`);
  };
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('not an object');
  const o = m as Record<string, unknown>;
  const allowed = new Set(['format', 'version', 'issued', 'expires', 'newsroomKey', 'recipients', 'desks', 'rotations']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) fail(`unknown field ${k}`);
  if (o.format !== MANIFEST_FORMAT) fail('unknown format');
  if (!Number.isSafeInteger(o.version) || (o.version as number) < 1) fail('version must be a positive integer');
  if (!isDay(o.issued) || !isDay(o.expires)) fail('issued and expires must be YYYY-MM-DD days');
  if ((o.expires as string) < (o.issued as string)) fail('expires before it was issued');
  if (typeof o.newsroomKey !== 'string' || !/^[0-9a-f]{64}$/.test(o.newsroomKey)) fail('newsroomKey must be 32 bytes of hex');
  if (!Array.isArray(o.recipients)) fail('recipients must be a list');
  const ids = new Set<string>();
  for (const r of o.recipients as unknown[]) {
    if (typeof r !== 'object' || r === null) fail('recipient must be an object');
    const rr = r as Record<string, unknown>;
    const rk = new Set(['id', 'name', 'fingerprint', 'publicKey']);
    for (const k of Object.keys(rr)) if (!rk.has(k)) fail(`unknown recipient field ${k}`);
    if (typeof rr.id !== 'string' || !ID_RE.test(rr.id)) fail('recipient id');
    if (ids.has(rr.id as string)) fail('duplicate recipient id');
    ids.add(rr.id as string);
    if (typeof rr.name !== 'string' || rr.name.length === 0 || rr.name.length > 200) fail('recipient name');
    if (typeof rr.fingerprint !== 'string' || !/^[0-9a-f]{40}$/.test(rr.fingerprint)) fail('recipient fingerprint');
    if (typeof rr.publicKey !== 'string' || !rr.publicKey.includes('BEGIN PGP PUBLIC KEY BLOCK')) fail('recipient publicKey');
  }
  if (!Array.isArray(o.desks) || (o.recipients as unknown[]).length > 0 && o.desks.length === 0) fail('desks must be a non-empty list');
  const deskIds = new Set<string>();
  const covered = new Set<string>();
  for (const d of o.desks as unknown[]) {
    const dd = d as Record<string, unknown>;
    if (typeof d !== 'object' || d === null || Object.keys(dd).some((k) => !['id', 'name', 'recipients'].includes(k))) fail('desk');
    if (typeof dd.id !== 'string' || !ID_RE.test(dd.id) || deskIds.has(dd.id)) fail('desk id');
    deskIds.add(dd.id as string);
    if (typeof dd.name !== 'string' || dd.name.length === 0 || dd.name.length > 200) fail('desk name');
    if (!Array.isArray(dd.recipients) || dd.recipients.length === 0) fail('a desk needs recipients');
    for (const id of dd.recipients as unknown[]) {
      if (typeof id !== 'string' || !ids.has(id)) fail('a desk names an unknown recipient');
      covered.add(id as string);
    }
  }
  if (covered.size !== ids.size) fail('every recipient must be in a desk');
  if (!Array.isArray(o.rotations)) fail('rotations must be a list');
  for (const r of o.rotations as unknown[]) {
    const rr = r as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || Object.keys(rr).some((k) => !['from', 'to', 'day', 'signature'].includes(k))) fail('rotation');
    if (typeof rr.from !== 'string' || !/^[0-9a-f]{64}$/.test(rr.from) || typeof rr.to !== 'string' || !/^[0-9a-f]{64}$/.test(rr.to)) fail('rotation keys');
    if (!isDay(rr.day) || typeof rr.signature !== 'string') fail('rotation day or signature');
  }
}

/** The desk a source chose, with its recipients' ids. Throws when there is no such desk. */
export function deskOf(manifest: Manifest, deskId: string): ManifestDesk {
  const desk = manifest.desks.find((d) => d.id === deskId);
  if (!desk) throw new ManifestError('malformed', `no desk "${deskId}" in the manifest`);
  return desk;
}

/**
 * Who must be able to open something filed under `deskId` (a tip, a
 * follow-up, a reply copy, a re-keyed tip): that desk's recipients, or every
 * recipient when there is no desk or it no longer exists. One rule, shared by
 * the browser, the server and the journalist tool.
 */
export function tipRecipientIds(manifest: Manifest, deskId: string | null | undefined): string[] {
  const desk = deskId ? manifest.desks.find((d) => d.id === deskId) : undefined;
  return desk ? [...desk.recipients] : manifest.recipients.map((r) => r.id);
}
