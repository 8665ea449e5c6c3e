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
 *   expires: '2027-02-26', newsroomKey: hex.encode(publicKey), recipients: [] }, secretKey);
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

export type Manifest = {
  format: typeof MANIFEST_FORMAT;
  /** Only ever goes up; clients refuse a lower one than they have seen. */
  version: number;
  issued: string;
  expires: string;
  /** Ed25519 public key of the newsroom, hex. */
  newsroomKey: string;
  recipients: ManifestRecipient[];
};

export type SignedManifest = { manifest: Manifest; signature: string };

export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    readonly code: 'malformed' | 'wrong-key' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'rolled-back',
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
  if (manifest.newsroomKey !== hex.encode(newsroomPublicKey)) {
    throw new ManifestError('wrong-key', 'the manifest is for a different newsroom key than the one this page trusts');
  }
  let sig: Uint8Array;
  try {
    sig = base64.decode(String(signature));
  } catch {
    throw new ManifestError('malformed', 'signature is not base64');
  }
  let ok = false;
  try {
    ok = sig.length === 64 && ed25519.verify(sig, manifestSigningBytes(manifest), newsroomPublicKey);
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
  const allowed = new Set(['format', 'version', 'issued', 'expires', 'newsroomKey', 'recipients']);
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
}
