/**
 * Checks the manifest a server publishes the way a careful source's browser
 * would, but against a trust anchor the watcher chose: the newsroom-key
 * fingerprint the newsroom published out of band (or the key pinned by an
 * earlier run). The signature must check, through the rotation chain when the
 * newsroom changed keys; the manifest must not have expired; and its version
 * must not be lower than the last one seen.
 *
 * A recipient the newsroom did not sign for (an extra key, a swapped key) breaks
 * the signature, so "unknown recipient" shows up as a bad signature.
 *
 * @example
 * const r = checkManifest(signed, { fingerprint: 'A1B2 C3D4 …', minVersion: 3, today: '2026-11-28' });
 * r.manifest;  // the verified manifest, or undefined
 * r.findings;  // [{ level: 'problem', message: 'manifest: …' }, …]
 */
import { hex } from '../../crypto/bytes.ts';
import { daysBetween } from '../../crypto/day.ts';
import { checkManifestShape, ManifestError, newsroomFingerprint, verifyManifest, type Manifest } from '../../crypto/manifest.ts';
import type { Finding } from './findings.ts';

/** Days before expiry from which a run warns that the newsroom must publish a new manifest. */
export const EXPIRY_WARNING_DAYS = 14;

export type TrustAnchor = {
  /** The newsroom-key fingerprint as published (any spacing or case). */
  fingerprint?: string | undefined;
  /** Or a key pinned by an earlier run (hex). */
  newsroomKey?: string | undefined;
};

export type ManifestCheck = { manifest?: Manifest; findings: Finding[] };

/** The fingerprint in its printed form (`A1B2 C3D4 …`), or undefined if it isn't 40 hex digits. */
export function normaliseFingerprint(text: string): string | undefined {
  const digits = text.replace(/[\s:]/g, '').toUpperCase();
  return /^[0-9A-F]{40}$/.test(digits) ? digits.match(/.{4}/g)!.join(' ') : undefined;
}

export function checkManifest(signed: unknown, o: TrustAnchor & { minVersion?: number | undefined; today: string }): ManifestCheck {
  if (o.fingerprint === undefined && o.newsroomKey === undefined) throw new TypeError('checkManifest needs a fingerprint or a pinned newsroom key to trust');
  const problem = (message: string): ManifestCheck => ({ findings: [{ level: 'problem', message: `manifest: ${message}` }] });
  const manifest = (signed as { manifest?: unknown } | null)?.manifest;
  try {
    checkManifestShape(manifest);
  } catch (e) {
    return problem((e as Error).message);
  }
  const anchor = trustedKey(manifest, o);
  if (!anchor) {
    const current = newsroomFingerprint(hex.decode(manifest.newsroomKey));
    const expected = o.fingerprint ? `fingerprint ${normaliseFingerprint(o.fingerprint) ?? o.fingerprint}` : `the pinned key ${fingerprintOfHex(o.newsroomKey!)}`;
    return problem(`it is signed by newsroom key ${current}, and no signed rotation leads there from ${expected}: this is not the newsroom's manifest`);
  }
  let verified: Manifest;
  try {
    verified = verifyManifest(signed, hex.decode(anchor), { today: o.today, minVersion: o.minVersion });
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    return problem(explain(e));
  }
  const findings: Finding[] = [];
  if (anchor !== verified.newsroomKey) {
    findings.push({ level: 'info', message: `manifest: the newsroom key was rotated from ${fingerprintOfHex(anchor)} to ${fingerprintOfHex(verified.newsroomKey)}, through a signed chain` });
  }
  const left = daysBetween(o.today, verified.expires);
  if (left < EXPIRY_WARNING_DAYS) findings.push({ level: 'warning', message: `manifest: expires in ${left} day(s), on ${verified.expires}; the newsroom must sign a new one` });
  findings.push({
    level: 'info',
    message: `manifest: version ${verified.version}, signed by newsroom key ${fingerprintOfHex(verified.newsroomKey)}, valid until ${verified.expires}, ${verified.recipients.length} recipient(s): ${verified.recipients.map((r) => `${r.name} (${r.fingerprint})`).join(', ')}`,
  });
  return { manifest: verified, findings };
}

/**
 * The key to verify from: the current key or one in its rotation chain whose
 * fingerprint is the one given (or which is the pinned key). The signatures
 * are checked afterwards, by verifyManifest.
 */
function trustedKey(manifest: Manifest, o: TrustAnchor): string | undefined {
  const keys = [manifest.newsroomKey, ...manifest.rotations.flatMap((r) => [r.from, r.to])];
  if (o.fingerprint !== undefined) {
    const wanted = normaliseFingerprint(o.fingerprint);
    return keys.find((k) => fingerprintOfHex(k) === wanted);
  }
  return keys.find((k) => k === o.newsroomKey);
}

function fingerprintOfHex(key: string): string {
  return newsroomFingerprint(hex.decode(key));
}

function explain(e: ManifestError): string {
  switch (e.code) {
    case 'bad-signature':
      return 'its signature does not check: it was changed after the newsroom signed it (a recipient or desk added, removed or altered)';
    case 'rolled-back':
      return `rolled back: ${e.message}`;
    default:
      return e.message;
  }
}
