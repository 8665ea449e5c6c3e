/** The reply box: X25519 + HKDF + XChaCha20-Poly1305, tested from the attacker's side too. */
import { describe, expect, it } from 'vitest';
import { x25519 } from '@noble/curves/ed25519.js';
import { utf8 } from '../crypto/bytes.ts';
import { ReplyBoxError, isReplyBox, openReply, sealReply } from '../crypto/reply-box.ts';

const keyPair = () => {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
};

describe('reply box', () => {
  const a = keyPair();
  const plaintext = utf8.encode('We would like to talk. 我们想和你谈谈。');

  it('round-trips', () => {
    expect(openReply(sealReply(plaintext, a.publicKey), a.secretKey)).toEqual(plaintext);
  });

  it('has the documented layout: version 1, 32-byte ephemeral key, 24-byte nonce, ciphertext and a 16-byte tag', () => {
    const box = sealReply(plaintext, a.publicKey);
    expect(box[0]).toBe(1);
    expect(box.length).toBe(1 + 32 + 24 + plaintext.length + 16);
    expect(isReplyBox(box)).toBe(true);
  });

  it('is different every time (fresh ephemeral key and nonce)', () => {
    expect(sealReply(plaintext, a.publicKey)).not.toEqual(sealReply(plaintext, a.publicKey));
  });

  it('fails with a clear error on any flipped byte', () => {
    const box = sealReply(plaintext, a.publicKey);
    for (let i = 0; i < box.length; i++) {
      const bad = box.slice();
      bad[i]! ^= 0x01;
      expect(() => openReply(bad, a.secretKey), `byte ${i}`).toThrow(ReplyBoxError);
    }
  });

  it('does not open with another key', () => {
    const b = keyPair();
    expect(() => openReply(sealReply(plaintext, a.publicKey), b.secretKey)).toThrow(/another codename|altered/);
  });

  it('refuses truncation, another version, and junk', () => {
    const box = sealReply(plaintext, a.publicKey);
    expect(() => openReply(box.subarray(0, 60), a.secretKey)).toThrow(ReplyBoxError);
    expect(() => openReply(box.subarray(0, box.length - 1), a.secretKey)).toThrow(ReplyBoxError);
    const v2 = box.slice();
    v2[0] = 2;
    expect(() => openReply(v2, a.secretKey)).toThrow(/version/);
    expect(isReplyBox(new Uint8Array(10))).toBe(false);
    expect(isReplyBox(v2)).toBe(false);
  });

  it('checks inputs at the door', () => {
    for (const bad of ['text', null, [1, 2], new Uint8Array(31)]) {
      expect(() => sealReply(plaintext, bad as never)).toThrow();
      expect(() => openReply(sealReply(plaintext, a.publicKey), bad as never)).toThrow();
    }
    expect(() => sealReply('text' as never, a.publicKey)).toThrow(TypeError);
  });
});
