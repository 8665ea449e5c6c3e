/**
 * Re-keying one attachment for `tipline journalist rekey`. An attachment is
 * its own OpenPGP message and may be gigabytes, so only its head travels:
 * the server sends the key packets and the first bytes of the data packet,
 * this machine keeps the packets of the keys that stay, and for keys that
 * join opens the session key with the journalist's key, checks it on those
 * bytes and wraps it for them (crypto/rekey.ts), and sends back the key
 * packets alone. The server splices them onto the data it holds; the data,
 * the file and its session key never leave the server or this machine.
 *
 * The fetched copy (`<blobId>.gpg` in the inbox) gets the same new key
 * packets in front of its own data packet, streamed into a new file and
 * renamed over it, so it opens with the new keys and its size again matches
 * the server's listing (which fetch checks). That happens only when its key
 * packets are the very ones just re-keyed: the session key then fits its data.
 *
 * @example
 * const outcome = await rekeyAttachment({ api, blobId, key, target, inboxDir, log });
 * // { outcome: 'rekeyed' | 'alreadyCurrent' | 'notOpenable', localCopyUpdated }
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { PublicKey } from '../../crypto/envelope.ts';
import { findDataPacketStart, inspectMessageHead } from '../../crypto/packets.ts';
import { RekeyError, rewrapMessageHead, type RekeyKey } from '../../crypto/rekey.ts';
import { exists } from './files.ts';
import type { JournalistApi } from './journalist-api.ts';

export type AttachmentRekeyOutcome = { outcome: 'rekeyed' | 'alreadyCurrent' | 'notOpenable'; localCopyUpdated: boolean };

export async function rekeyAttachment(o: {
  api: JournalistApi;
  blobId: string;
  /** An unlocked key (`--key`), or a session key source (`--gpg`: the key stays in gpg-agent). */
  key: RekeyKey;
  /** The current keys of the desk the server lists the tip under, checked against the pinned newsroom key, and their key IDs. */
  target: { key: PublicKey; keyId: string }[];
  /**
   * Asked only when the attachment's keys differ from `target`, with the key IDs
   * it names now: the keys to re-key to, from what its tip says (rekey-tips.ts).
   * May throw to leave it as it is.
   */
  resolveTarget?: (have: string[]) => Promise<{ key: PublicKey; keyId: string }[]>;
  inboxDir: string;
  log: (line: string) => void;
}): Promise<AttachmentRekeyOutcome> {
  const head = await o.api.getBlobHead(o.blobId);
  // The server's word is checked like the rest: strict packets, and the quick check in rewrapMessageHead.
  const inspected = inspectMessageHead(head);
  const localFile = join(o.inboxDir, `${o.blobId}.gpg`);
  const names = (target: { keyId: string }[]) => {
    const wanted = new Set(target.map((t) => t.keyId));
    return inspected.recipientKeyIds.length === wanted.size && inspected.recipientKeyIds.every((id) => wanted.has(id));
  };
  let target = o.target;
  if (!names(target) && o.resolveTarget) {
    try {
      target = await o.resolveTarget(inspected.recipientKeyIds);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'not-for-this-key') return notOpenable();
      throw e;
    }
  }
  if (names(target)) {
    const local = await localKeyPackets(localFile).catch(() => undefined);
    if (local && !Buffer.from(local).equals(inspected.keyPackets)) {
      o.log(`note: ${localFile} still has the key packets from before the re-key (a colleague re-keyed attachment ${o.blobId}); move it aside and fetch again for the re-keyed copy`);
    }
    return { outcome: 'alreadyCurrent', localCopyUpdated: false };
  }
  let keyPackets: Uint8Array;
  try {
    keyPackets = await rewrapMessageHead(head, o.key, target.map((t) => t.key));
  } catch (e) {
    if (e instanceof RekeyError && e.code === 'not-for-this-key') return notOpenable();
    throw e;
  }
  await o.api.putBlobKeyPackets(o.blobId, keyPackets, createHash('sha256').update(inspected.keyPackets).digest('hex'));
  o.log(`re-keyed attachment ${o.blobId} for ${target.length} current key(s)`);
  // A download fetch left unfinished holds the old bytes: resuming it from the re-keyed blob would mix the two.
  await rm(`${localFile}.partial`, { force: true }).catch(() => {});
  return { outcome: 'rekeyed', localCopyUpdated: await updateLocalCopy(localFile, inspected.keyPackets, keyPackets, o.log) };

  function notOpenable(): AttachmentRekeyOutcome {
    o.log(`skipped attachment ${o.blobId}: it is not encrypted to this key, so this key can't re-key it. A colleague whose key opens it can run rekey.`);
    return { outcome: 'notOpenable', localCopyUpdated: false };
  }
}

/** Puts `newKeyPackets` in front of the local copy's data packet, if its key packets are `oldKeyPackets`. */
async function updateLocalCopy(file: string, oldKeyPackets: Uint8Array, newKeyPackets: Uint8Array, log: (line: string) => void): Promise<boolean> {
  const tmp = `${file}.rekeyed.partial`;
  try {
    const local = await localKeyPackets(file);
    if (!local) return false;
    if (!Buffer.from(local).equals(oldKeyPackets)) {
      log(`warning: ${file} has other key packets than the server's attachment had; left it as it is. Move it aside and fetch again.`);
      return false;
    }
    const out = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
    out.write(newKeyPackets);
    await pipeline(createReadStream(file, { start: local.length }), out);
    await rename(tmp, file);
    return true;
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    // The server's copy is what counts; a local copy that can't be updated is only worth a warning.
    log(`warning: could not update ${file} (${(e as Error).message}); fetch into a new folder to get the re-keyed copy`);
    return false;
  }
}

/** The key packets at the start of a fetched attachment, or undefined when there is no such file. */
async function localKeyPackets(file: string): Promise<Uint8Array | undefined> {
  if (!(await exists(file))) return undefined;
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const readAt = async (offset: number, length: number) => {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    return await readAt(0, await findDataPacketStart(readAt, size));
  } finally {
    await handle.close();
  }
}
