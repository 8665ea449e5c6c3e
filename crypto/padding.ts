/**
 * Padding to size buckets, applied to the plaintext *inside* the encryption so
 * the ciphertext length reveals only which bucket a tip fell into.
 *
 * The scheme: bucket sizes are powers of two, starting at {@link MIN_BUCKET}
 * (4 KiB): 4 KiB, 8 KiB, 16 KiB, … The plaintext is extended with ASCII spaces
 * (0x20) up to its bucket. The padded content must carry its own length (the
 * tip document does, in its header), so unpadding never guesses. Spaces were
 * chosen over zero bytes so that `gpg --decrypt` output stays plain text.
 *
 * A power-of-two bucket wastes at most half the bucket; for short text tips
 * almost everything lands in the 4 KiB bucket, which is the point.
 *
 * @module
 * @example
 * import { padToBucket, bucketFor } from './padding.ts';
 * bucketFor(10); // 4096
 * padToBucket(new TextEncoder().encode('hello')).length; // 4096
 */
import { abytes } from './bytes.ts';

/** Smallest bucket: 4 KiB. Every tip, however short, is at least this big. */
export const MIN_BUCKET = 4096;
/** Largest bucket we pad to (1 GiB); bigger content is refused rather than leaked. */
export const MAX_BUCKET = 2 ** 30;
/** The byte used to fill: an ASCII space. */
export const PAD_BYTE = 0x20;

/** The bucket (in bytes) that content of `length` bytes is padded to. */
export function bucketFor(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
  if (length > MAX_BUCKET) throw new RangeError(`content of ${length} bytes is larger than the largest bucket`);
  let bucket = MIN_BUCKET;
  while (bucket < length) bucket *= 2;
  return bucket;
}

/** Returns a copy of `content` extended with spaces to its bucket size. */
export function padToBucket(content: Uint8Array): Uint8Array {
  abytes(content, undefined, 'content');
  const out = new Uint8Array(bucketFor(content.length)).fill(PAD_BYTE);
  out.set(content);
  return out;
}
