/**
 * The attachment envelope: each file is its own OpenPGP message (PKESK packets
 * to the desk's keys, one SEIPD v1 packet, no compression, like a tip; see
 * envelope.ts), so plain `gpg --decrypt` opens it. Both directions are Web
 * streams, so a 2 GiB file never sits whole in memory: the browser encrypts
 * from `Blob.stream()` and the journalist decrypts into a temporary file.
 *
 * Decrypting a stream hands out plaintext before the integrity check (the MDC
 * at the end of the message) has run: that is `allowUnauthenticatedStream`.
 * The stream errors at its end if the check fails, so a caller must write the
 * plaintext somewhere temporary and keep it only once the stream has ended
 * without error.
 *
 * @module
 * @example
 * const ciphertext = await encryptFileStream(file.stream(), keys); // ReadableStream
 * const plaintext = await decryptFileStream(ciphertext, privateKey); // ReadableStream; errors at the end if altered
 */
import * as openpgp from 'openpgp';
import { dayStart, utcDay } from './day.ts';
import { compressionRefused, NO_DECOMPRESSION } from './envelope.ts';
import type { SessionKey } from './session-key.ts';

/** Encrypts a stream of file bytes to all `keys`; the literal packet names no file and only the day. */
export async function encryptFileStream(plaintext: ReadableStream<Uint8Array>, keys: openpgp.PublicKey[], now: Date = new Date()): Promise<ReadableStream<Uint8Array>> {
  if (keys.length === 0) throw new RangeError('no recipients');
  const message = await openpgp.createMessage({ binary: plaintext, format: 'binary', date: dayStart(utcDay(now)) });
  return (await openpgp.encrypt({
    message,
    encryptionKeys: keys,
    format: 'binary',
    date: now,
    config: { aeadProtect: false, preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed },
  })) as ReadableStream<Uint8Array>;
}

/**
 * Decrypts a streamed OpenPGP message with `key`, or with its session key
 * (already checked: crypto/session-key.ts). Rejects at once when the key
 * doesn't fit; the returned stream errors at its end when the integrity check fails.
 */
export async function decryptFileStream(ciphertext: ReadableStream<Uint8Array>, key: openpgp.PrivateKey | SessionKey): Promise<ReadableStream<Uint8Array>> {
  const message = await openpgp.readMessage({ binaryMessage: ciphertext });
  const keys = key instanceof openpgp.PrivateKey ? { decryptionKeys: key } : { sessionKeys: key };
  let data: unknown;
  try {
    ({ data } = await openpgp.decrypt({ message, ...keys, format: 'binary', config: { allowUnauthenticatedStream: true, ...NO_DECOMPRESSION } }));
  } catch (e) {
    throw compressionRefused(e);
  }
  // The refusal of a compressed packet comes as the stream's error: name it.
  return renameErrors(data as ReadableStream<Uint8Array>);
}

/** `stream` as it is, but a compression refusal in it errors as a CompressedMessageError. */
function renameErrors(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (e) {
        controller.error(compressionRefused(e));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
