/**
 * A tip as a browser sends it: a tip document padded to its bucket (4 KiB for
 * any short message) and encrypted to the journalist keys, so every section
 * works on the bytes the real code works on.
 *
 * @example
 * const plaintext = samplePaddedTip(); // 4096 bytes
 * const ciphertext = await sampleTipCiphertext(keys.publicKeys);
 */
import { hex, randomBytes } from '../../crypto/bytes.ts';
import { encryptToKeys, type PublicKey } from '../../crypto/envelope.ts';
import { padToBucket } from '../../crypto/padding.ts';
import { encodeTipDocument } from '../../crypto/tip-document.ts';

const MESSAGE =
  'The community association on the third floor has been asked again for the names of everyone who attended the meeting on the 12th. ' +
  'Two people who refused were visited at home. I can share the messages they received.';

/** A short tip document, padded: 4096 bytes. */
export function samplePaddedTip(message = MESSAGE): Uint8Array {
  return padToBucket(encodeTipDocument({ type: 'tip', message, fields: {}, lang: 'en', replyPublicKey: hex.encode(randomBytes(32)) }));
}

export async function sampleTipCiphertext(keys: PublicKey[]): Promise<Uint8Array> {
  return encryptToKeys(samplePaddedTip(), keys);
}
