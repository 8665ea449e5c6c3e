/**
 * `tipline journalist rekey`: after a journalist leaves or replaces a key, makes
 * stored tips open with the current keys only. A removed journalist's key, or a
 * replaced old key, no longer opens them on the server.
 *
 * For each tip this journalist can see:
 *
 * - the keys it should be encrypted to come from the server's manifest, checked
 *   against the newsroom key pinned in the inbox folder (newsroom-pin.ts). That
 *   check matters: a tampered server that slipped its own key into the list
 *   would otherwise be handed every tip's session key;
 * - a tip whose key packets already name exactly those keys is left alone, so
 *   running the command again changes nothing;
 * - otherwise the packets of keys that stay are kept byte for byte, those of
 *   removed keys dropped, and for keys that join the journalist's secret key
 *   (the old one, if theirs was replaced) opens only the key packets, here,
 *   and the session key is wrapped for them (crypto/rekey.ts). The server
 *   swaps in the new key packets and checks that the encrypted data is
 *   byte-for-byte what it holds and that no staying key's packet changed.
 *   Neither the tip's content nor its session key ever leaves this machine;
 * - a tip this key can't open is skipped with a note when a key joins it: a
 *   colleague whose key does open it can re-key it. Only removing keys needs
 *   no session key, so that works with any key.
 *
 * The inbox copy of a re-keyed tip (`<id>.gpg`, written by fetch) is replaced
 * too, so it opens with the new keys like the server's copy does.
 *
 * The same goes for every attachment of those tips (only its head travels,
 * see rekey-attachment.ts) and for the newsroom copy of every reply in those
 * conversations, which `reply` encrypts to the conversation's desk: the same
 * rule, so the same keys.
 *
 * @example
 * const r = await rekeyTips({ server, token, key: oldPrivateKey, inboxDir: 'inbox' });
 * // r.rekeyed: ids; r.alreadyCurrent: a count; r.notOpenable: ids; r.failed: [{ id, reason }]
 * // r.attachments and r.replies: the same tally for attachments and reply copies
 */
import type { SocksProxy } from '../verify/socks5.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptionKeyIdOf, readPublicKey, type PublicKey } from '../../crypto/envelope.ts';
import type { Manifest } from '../../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../../crypto/packets.ts';
import { RekeyError, rewrapSessionKey, sameEncryptedData, tipRecipientIds, type RekeyKey } from '../../crypto/rekey.ts';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { exists, writeFileAtomic } from './files.ts';
import { JournalistApi, JournalistClientError, type RemoteReply, type RemoteTip } from './journalist-api.ts';
import { checkServerManifest } from './newsroom-pin.ts';
import { rekeyAttachment } from './rekey-attachment.ts';

/** What happened to one kind of thing (tips, attachments or reply copies). */
export type RekeyTally = {
  /** Ids whose key packets were replaced on the server. */
  rekeyed: string[];
  /** How many were already encrypted to exactly the current keys. */
  alreadyCurrent: number;
  /** Ids this key is not among the recipients of; someone else must re-key them. */
  notOpenable: string[];
  failed: { id: string; reason: string }[];
  /** How many were deleted on the server while this ran. */
  gone: number;
  /** Inbox copies replaced with the re-keyed version. */
  localCopiesUpdated: number;
};

/** The tips' tally, and the same for their attachments and for reply copies. */
export type RekeyResult = RekeyTally & { attachments: RekeyTally; replies: RekeyTally };

const emptyTally = (): RekeyTally => ({ rekeyed: [], alreadyCurrent: 0, notOpenable: [], failed: [], gone: 0, localCopiesUpdated: 0 });

/** One journalist in the current manifest: their key and the key ID a tip names for it. */
type CurrentKey = { key: PublicKey; keyId: string };

export async function rekeyTips(o: {
  server: string;
  /** Tor's SOCKS port, for an onion server (journalist-api.ts). */
  socks?: SocksProxy | undefined;
  token: string;
  /** What opens the tips as they are now (for a replaced key: the old one): an unlocked key (`--key`), or gpg-agent (`--gpg`). */
  key: RekeyKey;
  /** The fetch folder: it holds the pinned newsroom key and the local copies. */
  inboxDir: string;
  log?: (line: string) => void;
}): Promise<RekeyResult> {
  const log = o.log ?? (() => {});
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  // A revoked token should say so before anything else.
  await api.me();
  if (!(await exists(o.inboxDir))) {
    throw new JournalistClientError(`${o.inboxDir} does not exist: give --inbox the folder you fetch into (fetch --out), which holds the pinned newsroom key.`);
  }
  const { manifest } = await checkServerManifest(o.inboxDir, await api.getManifest(), { onFirstUse: 'refuse' });
  if (!manifest || manifest.recipients.length === 0) throw new JournalistClientError("the newsroom's key list has no journalists in it; nothing was re-keyed. Tell your admin.");
  const current = await currentKeys(manifest);

  const result: RekeyResult = { ...emptyTally(), attachments: emptyTally(), replies: emptyTally() };
  /** The desk of every conversation whose tips this journalist sees: their replies' copies go to the same keys. */
  const threadDesks = new Map<string, string | null>();
  let cursor: string | null = null;
  do {
    const page = await api.listTips(cursor);
    for (const tip of page.tips) await rekeyTip(tip);
    cursor = page.nextCursor;
  } while (cursor);
  let replyCursor: string | null = null;
  do {
    const page = await api.listReplies(replyCursor);
    for (const reply of page.replies) await rekeyReply(reply);
    replyCursor = page.nextCursor;
  } while (replyCursor);
  return result;

  function targetFor(desk: string | null | undefined): CurrentKey[] {
    return tipRecipientIds(manifest!, desk).map((id) => current.get(id)!);
  }

  async function rekeyTip(tip: RemoteTip): Promise<void> {
    const attachments = tip?.attachments ?? [];
    if (
      !MESSAGE_ID_RE.test(String(tip?.id)) ||
      !(tip.desk === undefined || tip.desk === null || typeof tip.desk === 'string') ||
      !(tip.threadId === null || tip.threadId === undefined || typeof tip.threadId === 'string') ||
      !Array.isArray(attachments) ||
      !attachments.every((a) => MESSAGE_ID_RE.test(String(a?.id)))
    ) {
      throw new JournalistClientError('the server listed a tip in a shape this tool does not accept; nothing more was re-keyed. Update tipline, or tell your admin.');
    }
    if (tip.threadId) threadDesks.set(tip.threadId, tip.desk ?? null);
    const target = targetFor(tip.desk);
    await rekeyWhole('tip', tip.id, target, result, () => api.getTip(tip.id, tip.size), (bytes) => api.putTipCiphertext(tip.id, bytes));
    for (const a of attachments) {
      await attempt('attachment', a.id, result.attachments, async () => {
        const r = await rekeyAttachment({ api, blobId: a.id, key: o.key, target, inboxDir: o.inboxDir, log });
        if (r.localCopyUpdated) result.attachments.localCopiesUpdated++;
        return r.outcome;
      });
    }
  }

  async function rekeyReply(reply: RemoteReply): Promise<void> {
    if (!MESSAGE_ID_RE.test(String(reply?.id)) || typeof reply.threadId !== 'string') {
      throw new JournalistClientError('the server listed a reply in a shape this tool does not accept; nothing more was re-keyed. Update tipline, or tell your admin.');
    }
    // A conversation none of whose tips this journalist sees belongs to another desk: not theirs to re-key.
    if (!threadDesks.has(reply.threadId)) return;
    const target = targetFor(threadDesks.get(reply.threadId));
    await rekeyWhole('reply copy', reply.id, target, result.replies, () => api.getReplyCopy(reply.id, reply.size), (bytes) => api.putReplyCopy(reply.id, bytes));
  }

  /** A tip or a reply copy: small enough to fetch whole and send back re-keyed. */
  async function rekeyWhole(
    what: 'tip' | 'reply copy',
    id: string,
    target: CurrentKey[],
    tally: RekeyTally,
    get: () => Promise<Uint8Array>,
    put: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void> {
    await attempt(what, id, tally, async () => {
      const stored = await get();
      if (sameKeyIds(inspectEncryptedMessage(stored).recipientKeyIds, target.map((t) => t.keyId))) {
        await updateLocalCopy(id, stored, tally);
        return 'alreadyCurrent';
      }
      let rekeyed: Uint8Array;
      try {
        rekeyed = await rewrapSessionKey(stored, o.key, target.map((t) => t.key));
      } catch (e) {
        if (e instanceof RekeyError && e.code === 'not-for-this-key') {
          log(`skipped ${what} ${id}: it is not encrypted to this key, so this key can't re-key it. A colleague whose key opens it can run rekey; if no current journalist's key opens it, nobody can.`);
          return 'notOpenable';
        }
        throw e;
      }
      await put(rekeyed);
      log(`re-keyed ${what} ${id} for ${target.length} current key(s)`);
      await updateLocalCopy(id, rekeyed, tally);
      return 'rekeyed';
    });
  }

  /** Runs one re-key and files its outcome; a revoked token stops the whole run. */
  async function attempt(what: string, id: string, tally: RekeyTally, run: () => Promise<'rekeyed' | 'alreadyCurrent' | 'notOpenable'>): Promise<void> {
    try {
      const outcome = await run();
      if (outcome === 'rekeyed') tally.rekeyed.push(id);
      else if (outcome === 'alreadyCurrent') tally.alreadyCurrent++;
      else tally.notOpenable.push(id);
    } catch (e) {
      if (e instanceof JournalistClientError && e.status === 401) throw e;
      if (e instanceof JournalistClientError && e.status === 404) {
        tally.gone++;
        log(`${what} ${id} was deleted on the server meanwhile; nothing to re-key`);
        return;
      }
      const reason = failureReason(e);
      tally.failed.push({ id, reason });
      log(`FAILED to re-key ${what} ${id}: ${reason}`);
    }
  }

  /**
   * Replaces the inbox copy with the server's re-keyed one, but only when both
   * carry the same encrypted data: a server must not be able to swap a good
   * local copy for something else.
   */
  async function updateLocalCopy(id: string, bytes: Uint8Array, tally: RekeyTally): Promise<void> {
    const file = join(o.inboxDir, `${id}.gpg`);
    try {
      if (!(await exists(file))) return;
      const local = await readFile(file);
      if (local.equals(bytes)) return;
      if (!sameEncryptedData(new Uint8Array(local), bytes)) {
        log(`warning: ${file} holds different encrypted data than the server's copy of ${id}; left it as it is`);
        return;
      }
      await writeFileAtomic(file, bytes);
      tally.localCopiesUpdated++;
    } catch (e) {
      // The server's copy is what counts; a local copy that can't be updated is only worth a warning.
      log(`warning: could not update ${file} (${(e as Error).message}); fetch into a new folder to get the re-keyed copy`);
    }
  }
}

/** Each manifest journalist's key, by journalist id. */
async function currentKeys(manifest: Manifest): Promise<Map<string, CurrentKey>> {
  const out = new Map<string, CurrentKey>();
  for (const r of manifest.recipients) {
    try {
      const key = await readPublicKey(r.publicKey);
      out.set(r.id, { key, keyId: await encryptionKeyIdOf(key) });
    } catch {
      throw new JournalistClientError(`the key of ${r.name} in the newsroom's key list can't be encrypted to (it may have expired); nothing was re-keyed. Ask your admin to renew it.`);
    }
  }
  return out;
}

function sameKeyIds(a: string[], b: string[]): boolean {
  const wanted = new Set(b);
  return a.length === wanted.size && a.every((id) => wanted.has(id));
}

function failureReason(e: unknown): string {
  if (e instanceof JournalistClientError && e.status === 422) {
    return `the server refused the new key packets (${e.message}). The journalist list may have just changed: run rekey again.`;
  }
  if (e instanceof JournalistClientError && e.status === 409) return `${e.message} Run rekey again.`;
  return (e as Error).message ?? String(e);
}
