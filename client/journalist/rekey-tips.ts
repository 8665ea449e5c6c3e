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
 * - which desk's keys, the tip says itself: its document (inside the
 *   encryption) names the desk it was written for, its conversation and its
 *   attachments, and the key list version it was encrypted under. Before
 *   changing anything the tool opens the tip here and believes it over the
 *   server's labels: a tip the server lists under another desk, an attachment
 *   the tip does not name, and a reply copy filed in another conversation are
 *   left as they are and reported. A tip from before the document recorded
 *   its desk has only the server's label; re-keying it may then take
 *   journalists away but adds none that can't read it now, unless
 *   `allowNewRecipients` (`--allow-new-recipients`) says the admin confirmed
 *   the desk. A journalist whose key was replaced is not "new": the folder's
 *   known-keys.json tells their old key from a stranger's;
 * - a server that offers an older key list than one a tip was encrypted under
 *   is holding the newer one back (a frozen manifest, which could still name a
 *   journalist removed since): the run stops before anything more changes;
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
import { decryptMessage, isSessionKeySource, privateKeySource, SessionKeyError } from '../../crypto/session-key.ts';
import { decodeTipDocument, type TipDocument } from '../../crypto/tip-document.ts';
import { printable } from './printable.ts';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { exists, writeFileAtomic } from './files.ts';
import { JournalistApi, JournalistClientError, type RemoteReply, type RemoteTip } from './journalist-api.ts';
import { deskWord, describeKeyList, FrozenKeyListError, newReaders, refuseFrozenKeyList } from './key-list.ts';
import { knownKeyOwners } from './known-keys.ts';
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
type CurrentKey = { name: string; key: PublicKey; keyId: string };

export async function rekeyTips(o: {
  server: string;
  /** Tor's SOCKS port, for an onion server (journalist-api.ts). */
  socks?: SocksProxy | undefined;
  token: string;
  /** What opens the tips as they are now (for a replaced key: the old one): an unlocked key (`--key`), or gpg-agent (`--gpg`). */
  key: RekeyKey;
  /** The fetch folder: it holds the pinned newsroom key and the local copies. */
  inboxDir: string;
  /** Re-key tips that don't name their desk even where the server's label adds journalists who can't read them now (`--allow-new-recipients`). */
  allowNewRecipients?: boolean;
  log?: (line: string) => void;
}): Promise<RekeyResult> {
  const log = o.log ?? (() => {});
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  // A revoked token should say so before anything else.
  await api.me();
  if (!(await exists(o.inboxDir))) {
    throw new JournalistClientError(`${o.inboxDir} does not exist: give --inbox the folder you fetch into (fetch --out), which holds the pinned newsroom key.`);
  }
  const checked = await checkServerManifest(o.inboxDir, await api.getManifest(), { onFirstUse: 'refuse' });
  const manifest = checked.manifest;
  if (!manifest || manifest.recipients.length === 0) throw new JournalistClientError("the newsroom's key list has no journalists in it; nothing was re-keyed. Tell your admin.");
  if (checked.rotatedFrom) log(`the newsroom key moved from ${checked.rotatedFrom} to ${checked.fingerprint} through a signed rotation; ${o.inboxDir} now trusts only the new key.`);
  const current = await currentKeys(manifest);
  // Whose each key ID is, current keys included: checkServerManifest just recorded them.
  const owners = await knownKeyOwners(o.inboxDir);
  const [heading, ...desks] = describeKeyList(manifest);
  for (const line of [`re-keying to ${heading}`, ...desks]) log(line);
  const source = isSessionKeySource(o.key) ? o.key : privateKeySource(o.key);

  const result: RekeyResult = { ...emptyTally(), attachments: emptyTally(), replies: emptyTally() };
  /** The conversations whose tips this journalist sees: their server-labelled desk and the tips that may say it themselves. */
  const threads = new Map<string, { labelDesk: string | null; tips: RemoteTip[] }>();
  /** Tips opened here, by id: what they say about themselves. */
  const opened = new Map<string, Promise<TipDocument>>();
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

  /** A message's document, decrypted here with the journalist's key; the plaintext is wiped once read. */
  async function openDocument(ciphertext: Uint8Array): Promise<TipDocument> {
    const plaintext = await decryptMessage(ciphertext, source);
    try {
      return decodeTipDocument(plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  function targetFor(desk: string | null | undefined): Target {
    return { deskId: desk ?? null, keys: tipRecipientIds(manifest!, desk).map((id) => current.get(id)!) };
  }

  /** Opens a tip here (once per run) and checks what it says against the server's listing. */
  function openTip(tip: RemoteTip, stored?: Uint8Array): Promise<TipDocument> {
    let doc = opened.get(tip.id);
    if (!doc) {
      doc = (async () => {
        const d = await openDocument(stored ?? (await api.getTip(tip.id, tip.size)));
        checkKeyListVersion(d, `tip ${tip.id}`);
        if (d.threadId !== undefined && tip.threadId && d.threadId !== tip.threadId) {
          throw new LabelMismatch(`the server files it in another conversation than the one it was written for; it was left as it is. Tell your admin: the server's records were changed.`);
        }
        return d;
      })();
      opened.set(tip.id, doc);
    }
    return doc;
  }

  /** A tip or reply copy that names a newer key list than the server offers stops the run. */
  function checkKeyListVersion(doc: TipDocument, what: string): void {
    refuseFrozenKeyList(manifest!, doc.keyListVersion, `${what} was`, 'Nothing more was re-keyed.');
  }

  /**
   * The keys something must be re-keyed to: its own desk's when it says which
   * (refusing a server label that disagrees); otherwise the server's label, but
   * only if that adds no journalist who can't read it now (or the caller allowed it).
   */
  function chooseTarget(boundDesk: string | null | undefined, labelDesk: string | null, have: string[]): Target {
    if (boundDesk !== undefined) {
      if (boundDesk !== labelDesk) {
        throw new LabelMismatch(
          `the server lists it under ${deskWord(manifest!, labelDesk)}, but it was written for ${deskWord(manifest!, boundDesk)}; it was left as it is. Tell your admin: the server's desk labels were changed.`,
        );
      }
      return targetFor(boundDesk);
    }
    const added = newReaders(manifest!, labelDesk, have, owners);
    if (added.length > 0 && !o.allowNewRecipients) {
      throw new LabelMismatch(
        `re-keying it for ${deskWord(manifest!, labelDesk)} would let ${added.map((r) => printable(r.name)).join(', ')} read it, who can't now, and it was sent before tipline recorded its desk inside the encryption, so only the server's label says they should. ` +
          'It was left as it is. If your admin confirms the desk, run rekey again with --allow-new-recipients.',
      );
    }
    return targetFor(labelDesk);
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
    const labelDesk = tip.desk ?? null;
    if (tip.threadId) {
      const thread = threads.get(tip.threadId) ?? { labelDesk, tips: [] };
      thread.tips.push(tip);
      threads.set(tip.threadId, thread);
    }
    await rekeyWhole(
      'tip',
      tip.id,
      labelDesk,
      result,
      () => api.getTip(tip.id, tip.size),
      async (stored, have) => chooseTarget((await openTip(tip, stored)).deskId, labelDesk, have),
      (bytes) => api.putTipCiphertext(tip.id, bytes),
    );
    for (const a of attachments) {
      await attempt('attachment', a.id, result.attachments, async () => {
        const r = await rekeyAttachment({
          api,
          blobId: a.id,
          key: o.key,
          target: targetFor(labelDesk).keys,
          // Only when something would change: the tip must name this attachment, and says its desk.
          resolveTarget: async (have) => {
            const doc = await openTip(tip);
            if (!(doc.attachments ?? []).some((ref) => ref.blobId === a.id)) {
              throw new LabelMismatch(`the server lists it with tip ${tip.id}, but that tip does not name it; it was left as it is. Tell your admin: the server's records were changed.`);
            }
            return chooseTarget(doc.deskId, labelDesk, have).keys;
          },
          inboxDir: o.inboxDir,
          log,
        });
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
    const thread = threads.get(reply.threadId);
    if (!thread) return;
    await rekeyWhole(
      'reply copy',
      reply.id,
      thread.labelDesk,
      result.replies,
      () => api.getReplyCopy(reply.id, reply.size),
      async (stored, have) => {
        const doc = await openDocument(stored);
        checkKeyListVersion(doc, `reply copy ${reply.id}`);
        if (doc.type !== 'reply' || (doc.threadId !== undefined && doc.threadId !== reply.threadId)) {
          throw new LabelMismatch('the server files it in another conversation than the one it was written for; it was left as it is. Tell your admin: the server\'s records were changed.');
        }
        // The copy says its desk (replies sent since it was recorded), or the conversation's first tip that says it does.
        let desk = doc.deskId;
        for (const tip of thread.tips) {
          if (desk !== undefined) break;
          const tipDoc = await openTip(tip).catch(() => undefined);
          if (tipDoc?.threadId === reply.threadId && tipDoc.deskId !== undefined) desk = tipDoc.deskId;
        }
        return chooseTarget(desk, thread.labelDesk, have);
      },
      (bytes) => api.putReplyCopy(reply.id, bytes),
    );
  }

  /** A tip or a reply copy: small enough to fetch whole and send back re-keyed. */
  async function rekeyWhole(
    what: 'tip' | 'reply copy',
    id: string,
    labelDesk: string | null,
    tally: RekeyTally,
    get: () => Promise<Uint8Array>,
    resolveTarget: (stored: Uint8Array, have: string[]) => Promise<Target>,
    put: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void> {
    await attempt(what, id, tally, async () => {
      const stored = await get();
      const have = inspectEncryptedMessage(stored).recipientKeyIds;
      // Already what the label asks for: nothing changes, so nothing needs believing.
      if (sameKeyIds(have, targetFor(labelDesk).keys.map((t) => t.keyId))) {
        await updateLocalCopy(id, stored, tally);
        return 'alreadyCurrent';
      }
      let target: Target;
      try {
        target = await resolveTarget(stored, have);
      } catch (e) {
        if (isNotForThisKey(e)) return notOpenable(what, id);
        throw e;
      }
      if (sameKeyIds(have, target.keys.map((t) => t.keyId))) return 'alreadyCurrent';
      let rekeyed: Uint8Array;
      try {
        rekeyed = await rewrapSessionKey(stored, o.key, target.keys.map((t) => t.key));
      } catch (e) {
        if (isNotForThisKey(e)) return notOpenable(what, id);
        throw e;
      }
      await put(rekeyed);
      log(`re-keyed ${what} ${id} for ${deskWord(manifest!, target.deskId)}: ${target.keys.map((t) => printable(t.name)).join(', ')}`);
      await updateLocalCopy(id, rekeyed, tally);
      return 'rekeyed';
    });
  }

  function notOpenable(what: string, id: string): 'notOpenable' {
    log(`skipped ${what} ${id}: it is not encrypted to this key, so this key can't re-key it. A colleague whose key opens it can run rekey; if no current journalist's key opens it, nobody can.`);
    return 'notOpenable';
  }

  /** Runs one re-key and files its outcome; a revoked token or a frozen key list stops the whole run. */
  async function attempt(what: string, id: string, tally: RekeyTally, run: () => Promise<'rekeyed' | 'alreadyCurrent' | 'notOpenable'>): Promise<void> {
    try {
      const outcome = await run();
      if (outcome === 'rekeyed') tally.rekeyed.push(id);
      else if (outcome === 'alreadyCurrent') tally.alreadyCurrent++;
      else tally.notOpenable.push(id);
    } catch (e) {
      if (e instanceof FrozenKeyListError) throw e;
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

/** A message of the server's that says something else than the server's labels; it is left as it is. */
class LabelMismatch extends Error {
  override name = 'LabelMismatch';
}


/** The keys something is re-keyed to, and the desk they are for (null: the whole newsroom). */
type Target = { deskId: string | null; keys: CurrentKey[] };

const isNotForThisKey = (e: unknown) => (e instanceof RekeyError || e instanceof SessionKeyError) && e.code === 'not-for-this-key';

/** Each manifest journalist's key, by journalist id. */
async function currentKeys(manifest: Manifest): Promise<Map<string, CurrentKey>> {
  const out = new Map<string, CurrentKey>();
  for (const r of manifest.recipients) {
    try {
      const key = await readPublicKey(r.publicKey);
      out.set(r.id, { name: r.name, key, keyId: await encryptionKeyIdOf(key) });
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
