import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hex, base64, utf8 } from '../crypto/bytes.ts';
import {
  MANIFEST_FORMAT,
  ManifestError,
  canonicalJson,
  generateNewsroomKey,
  manifestSigningBytes,
  newsroomFingerprint,
  signManifest,
  verifyManifest,
  type Manifest,
} from '../crypto/manifest.ts';
import vectors from './vectors/manifest.json' with { type: 'json' };

const FAKE_KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ…\n-----END PGP PUBLIC KEY BLOCK-----\n';

function sampleManifest(publicKey: Uint8Array, overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: MANIFEST_FORMAT,
    version: 3,
    issued: '2026-11-28',
    expires: '2027-02-26',
    newsroomKey: hex.encode(publicKey),
    recipients: [
      { id: 'j1AAAAAAAAAAAAAAAAAAAA', name: 'Ana Lima', fingerprint: 'a'.repeat(40), publicKey: FAKE_KEY },
      { id: 'j2AAAAAAAAAAAAAAAAAAAA', name: '王芳', fingerprint: 'b'.repeat(40), publicKey: FAKE_KEY },
    ],
    desks: [
      { id: 'investigations', name: 'Investigations', recipients: ['j1AAAAAAAAAAAAAAAAAAAA', 'j2AAAAAAAAAAAAAAAAAAAA'] },
      { id: 'community', name: 'Community', recipients: ['j2AAAAAAAAAAAAAAAAAAAA'] },
    ],
    rotations: [],
    ...overrides,
  };
}

describe('canonical JSON', () => {
  it('sorts keys at every depth and adds no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('encodes the same object the same way whatever the key order', () => {
    const { publicKey } = generateNewsroomKey();
    const m = sampleManifest(publicKey);
    const reordered = Object.fromEntries(Object.entries(m).reverse()) as Manifest;
    expect(utf8.decode(manifestSigningBytes(reordered))).toBe(utf8.decode(manifestSigningBytes(m)));
  });

  it('refuses what JSON cannot carry exactly', () => {
    for (const bad of [1.5, NaN, Infinity, undefined, () => 1, 2 ** 60]) expect(() => canonicalJson(bad)).toThrow(TypeError);
  });

  it('matches the published test vector', () => {
    expect(canonicalJson(vectors.manifest)).toBe(vectors.canonical);
    const pub = ed25519.getPublicKey(hex.decode(vectors.secretKey));
    expect(hex.encode(pub)).toBe(vectors.manifest.newsroomKey);
    expect(signManifest(vectors.manifest as Manifest, hex.decode(vectors.secretKey)).signature).toBe(vectors.signature);
    expect(newsroomFingerprint(pub)).toBe(vectors.fingerprint);
  });
});

describe('manifest signature', () => {
  const { secretKey, publicKey } = generateNewsroomKey();
  const signed = signManifest(sampleManifest(publicKey), secretKey);
  const today = '2026-12-01';

  it('verifies a good manifest', () => {
    expect(verifyManifest(signed, publicKey, { today }).version).toBe(3);
  });

  it('fails on every single byte flip of the signed bytes', () => {
    // Flip each byte of the canonical encoding, rebuild the object, and check: every change must be caught.
    const canonical = canonicalJson(signed.manifest);
    let checked = 0;
    for (let i = 0; i < canonical.length; i++) {
      const chars = [...canonical];
      const flipped = String.fromCharCode(canonical.charCodeAt(i) ^ 0x01);
      chars[i] = flipped;
      let tampered: unknown;
      try {
        tampered = JSON.parse(chars.join(''));
      } catch {
        continue; // not JSON any more: the client can't even read it
      }
      expect(() => verifyManifest({ manifest: tampered, signature: signed.signature }, publicKey, { today }), `byte ${i}`).toThrow(ManifestError);
      checked++;
    }
    expect(checked).toBeGreaterThan(canonical.length / 2);
  });

  it('fails on every byte flip of the signature', () => {
    const sig = base64.decode(signed.signature);
    for (let i = 0; i < sig.length; i++) {
      const bad = sig.slice();
      bad[i]! ^= 0x80;
      expect(() => verifyManifest({ manifest: signed.manifest, signature: base64.encode(bad) }, publicKey, { today })).toThrow(/signature/);
    }
  });

  it('refuses an expired manifest, one from the future, and a rolled-back version', () => {
    expect(() => verifyManifest(signed, publicKey, { today: '2027-02-27' })).toThrow(expect.objectContaining({ code: 'expired' }));
    expect(verifyManifest(signed, publicKey, { today: '2027-02-26' }).version).toBe(3); // last valid day
    expect(() => verifyManifest(signed, publicKey, { today: '2026-11-20' })).toThrow(expect.objectContaining({ code: 'not-yet-valid' }));
    expect(() => verifyManifest(signed, publicKey, { today, minVersion: 4 })).toThrow(expect.objectContaining({ code: 'rolled-back' }));
  });

  it('refuses a manifest signed by another newsroom key', () => {
    const other = generateNewsroomKey();
    const forged = signManifest(sampleManifest(other.publicKey), other.secretKey);
    expect(() => verifyManifest(forged, publicKey, { today })).toThrow(expect.objectContaining({ code: 'wrong-key' }));
    // Even when the forger writes our key into the body, the signature gives it away.
    const lying = { manifest: sampleManifest(publicKey), signature: forged.signature };
    expect(() => verifyManifest(lying, publicKey, { today })).toThrow(expect.objectContaining({ code: 'bad-signature' }));
  });

  it('refuses malformed manifests with a clear code', () => {
    for (const bad of [null, 'x', {}, { manifest: {}, signature: '' }, { manifest: { ...signed.manifest, extra: 1 }, signature: signed.signature }]) {
      expect(() => verifyManifest(bad, publicKey, { today })).toThrow(expect.objectContaining({ code: 'malformed' }));
    }
    const noSig = { manifest: signed.manifest, signature: '!!' };
    expect(() => verifyManifest(noSig, publicKey, { today })).toThrow(ManifestError);
  });

  it('checks its inputs at the door', () => {
    for (const bad of ['key', null, [1, 2, 3], new Uint8Array(31)]) {
      expect(() => verifyManifest(signed, bad as never, { today })).toThrow(/publicKey|Uint8Array|bytes/);
      expect(() => signManifest(signed.manifest, bad as never)).toThrow();
    }
  });
});

describe('newsroom fingerprint', () => {
  it('is 10 groups of 4 uppercase hex digits, different per key', () => {
    const a = newsroomFingerprint(generateNewsroomKey().publicKey);
    const b = newsroomFingerprint(generateNewsroomKey().publicKey);
    expect(a).toMatch(/^([0-9A-F]{4} ){9}[0-9A-F]{4}$/);
    expect(a).not.toBe(b);
  });
});
