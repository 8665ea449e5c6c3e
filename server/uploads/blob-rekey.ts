/**
 * Re-keying an attachment blob without moving it: the journalist's machine
 * gets only the blob's head (its key packets and the first bytes of its data
 * packet), wraps the session key for the current keys there, and sends back
 * new key packets alone. This module puts them in front of the data packet it
 * already holds, streaming, so a blob of gigabytes is never in memory and
 * never crosses the network.
 *
 * The data packet can't change, by construction: the server copies it from
 * the old blob itself. It still checks, by SHA-256: the data packet is hashed
 * once before the copy and again as it is copied, and a difference (the blob
 * changed underneath) errors the copy, so the old blob stays. The swap itself
 * is `BlobStore.replace`: staged, fsynced, renamed.
 *
 * Compare-and-swap: the journalist names the key packets they re-keyed, by
 * SHA-256, and a blob whose key packets are something else by now (re-keyed
 * by a colleague meanwhile) is refused. That is checked twice: up front, and
 * again at the swap itself (`replace`'s `ifStartsWith`: the head read up
 * front, key packets and the start of the data packet, must still be the
 * blob's first bytes; the key packets alone would not do, since a re-key that
 * only adds a key leaves them in front of its new packet), which on PostgreSQL runs
 * under the blob's row lock. So of two re-keys racing on two instances one
 * swaps and the other is refused (blob-changed), its copy thrown away. The
 * in-memory "one re-key per blob at a time" guard only spares this instance
 * the wasted copy; it is not what keeps the blob whole.
 *
 * What the key packets may name (exactly the desk's current keys) is the
 * caller's check, before it calls {@link BlobRekeying.replaceKeyPackets};
 * how they may differ from the stored ones (crypto/key-packet-swap.ts) is its
 * `checkSwap`, called with the stored key packets once they are read.
 *
 * @example
 * const rekeying = new BlobRekeying(blobs);
 * const { head, size } = await rekeying.head(id);
 * await rekeying.replaceKeyPackets(id, { keyPackets, previousKeyPacketsSha256 });
 * // → { size, dataSha256, changed }
 */
import { createHash } from 'node:crypto';
import { findDataPacketStart, HEAD_DATA_BYTES, inspectMessageAt, inspectMessageHead, NotEncryptedError } from '../../crypto/packets.ts';
import { BlobChangedError } from './blob-store.ts';
import type { BlobStore } from './blob-store.ts';

/** Why a re-key was refused with nothing changed; `code` becomes the API error code (409). */
export class BlobRekeyError extends Error {
  override name = 'BlobRekeyError';
  constructor(
    readonly code: 'blob-changed' | 'blob-busy' | 'blob-segmented',
    message: string,
  ) {
    super(message);
  }
}

export class BlobRekeying {
  /** Blobs being re-keyed by this instance now: a second request for one waits for nothing and is refused. */
  private readonly busy = new Set<string>();

  constructor(private readonly blobs: BlobStore) {}

  /**
   * The blob's key packets and the first {@link HEAD_DATA_BYTES} bytes of its
   * data packet, and its size. Throws NotEncryptedError (packets.ts) when the
   * stored blob has no such head.
   */
  async head(id: string): Promise<{ head: Uint8Array; size: number }> {
    if (this.busy.has(id)) throw busy();
    const { size, head } = await this.sizeAndHead(id);
    return { head: head.bytes, size };
  }

  /**
   * Swaps the blob's key packets for `keyPackets` (already checked to be PKESK
   * packets to the right keys). Refuses with {@link BlobRekeyError} when the
   * blob's key packets are no longer the ones hashed in `previousKeyPacketsSha256`
   * (hex), or when another re-key of it is running. On any error the blob is unchanged.
   * `changed` is false when `keyPackets` are the stored ones already.
   */
  async replaceKeyPackets(
    id: string,
    o: {
      keyPackets: Uint8Array;
      previousKeyPacketsSha256: string;
      /**
       * Judges the swap against the key packets it replaces, read here, so the
       * very bytes the swap is checked against are the ones `replace` requires
       * to still be there (`ifStartsWith`). Throws to refuse; nothing changes.
       */
      checkSwap?: (storedKeyPackets: Uint8Array) => void;
    },
  ): Promise<{ size: number; dataSha256: string; changed: boolean }> {
    if (this.busy.has(id)) throw busy();
    this.busy.add(id);
    try {
      const { size, head } = await this.sizeAndHead(id);
      if (sha256Hex(head.keyPackets) !== o.previousKeyPacketsSha256.toLowerCase()) {
        throw new BlobRekeyError('blob-changed', "The attachment's key packets are not the ones you re-keyed: someone re-keyed it meanwhile. Fetch its head again and re-key again. Nothing was changed.");
      }
      o.checkSwap?.(head.keyPackets);
      const dataBytes = size - head.dataStart;
      const before = await this.dataDigest(id, head.dataStart);
      if (Buffer.from(o.keyPackets).equals(head.keyPackets)) return { size, dataSha256: before, changed: false };
      const written = await this.blobs.replace(id, this.rekeyedStream(id, o.keyPackets, head.dataStart, dataBytes, before), {
        maxBytes: o.keyPackets.length + dataBytes,
        ifStartsWith: head.bytes,
      });
      return { size: written, dataSha256: before, changed: true };
    } catch (e) {
      // Replaced (by a re-key on another instance) while this one read or copied it, or just before the swap.
      if (e instanceof BlobChangedError) throw new BlobRekeyError('blob-changed', "The attachment's key packets changed while it was being re-keyed: someone re-keyed it meanwhile. Fetch its head again and re-key again. Nothing was changed.");
      throw e;
    } finally {
      this.busy.delete(id);
    }
  }

  /**
   * The size and the head, read together. A blob replaced between the size
   * and the reads (a re-key on another instance, on PostgreSQL) looks like a
   * broken message; read once more, and only a blob that is broken both
   * times is refused as unreadable. A changed one then fails the caller's
   * compare-and-swap as `blob-changed`, which is what happened.
   */
  private async sizeAndHead(id: string): Promise<{ size: number; head: Awaited<ReturnType<BlobRekeying['readHead']>> }> {
    for (let attempt = 1; ; attempt++) {
      const size = await this.blobs.size(id);
      try {
        return { size, head: await this.readHead(id, size) };
      } catch (e) {
        if (!(e instanceof NotEncryptedError) || attempt === 2) throw e;
      }
    }
  }

  private async readHead(id: string, size: number): Promise<{ bytes: Uint8Array; keyPackets: Uint8Array; dataStart: number }> {
    const readAt = (offset: number, length: number) => this.blobs.readAt(id, offset, length);
    const dataStart = await findDataPacketStart(readAt, size);
    // A segmented attachment (crypto/segmented-envelope.ts) has key packets in front of every
    // segment; swapping only the first set would leave the rest open to the old keys.
    if ((await inspectMessageAt(readAt, 0, size)).dataPacket.end !== size) {
      throw new BlobRekeyError('blob-segmented', 'This attachment is segmented (one OpenPGP message per 4 MiB), and re-keying segmented attachments is not supported yet. Nothing was changed; it still opens with the keys it was sent to.');
    }
    const bytes = await readAt(0, Math.min(size, dataStart + HEAD_DATA_BYTES));
    const { keyPackets } = inspectMessageHead(bytes);
    return { bytes, keyPackets, dataStart };
  }

  /** SHA-256 (hex) of the blob from `start` to its end: its data packet. */
  private async dataDigest(id: string, start: number): Promise<string> {
    const hash = createHash('sha256');
    const reader = this.blobs.read(id, start).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return hash.digest('hex');
      hash.update(value);
    }
  }

  /**
   * `keyPackets`, then the old blob from `dataStart` on. The copied bytes are
   * hashed as they pass; if they are not the `dataSha256` measured before,
   * the stream errors at its end, before `replace` can swap anything in.
   */
  private rekeyedStream(id: string, keyPackets: Uint8Array, dataStart: number, dataBytes: number, dataSha256: string): ReadableStream<Uint8Array> {
    const data = this.blobs.read(id, dataStart).getReader();
    const hash = createHash('sha256');
    let copied = 0;
    let headSent = false;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!headSent) {
          headSent = true;
          controller.enqueue(keyPackets);
          return;
        }
        const { done, value } = await data.read();
        if (!done) {
          // More data than the data packet had: the blob was replaced by a longer one (a re-key that
          // added a key) under this read. Said here, before the store's size limit calls it something else.
          if (copied + value.length > dataBytes) {
            controller.error(changedUnderneath());
            return;
          }
          hash.update(value);
          copied += value.length;
          controller.enqueue(value);
          return;
        }
        if (copied !== dataBytes || hash.digest('hex') !== dataSha256) {
          controller.error(changedUnderneath());
          return;
        }
        controller.close();
      },
      cancel: (reason) => data.cancel(reason),
    });
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function changedUnderneath(): BlobRekeyError {
  return new BlobRekeyError('blob-changed', 'The attachment changed while it was being re-keyed. Nothing was changed: run rekey again.');
}

function busy(): BlobRekeyError {
  return new BlobRekeyError('blob-busy', 'This attachment is being re-keyed by another request right now. Run rekey again in a moment.');
}
