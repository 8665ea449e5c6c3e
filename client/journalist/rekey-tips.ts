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
 * - otherwise the journalist's secret key (the old one, if theirs was replaced)
 *   opens only the key packets, here, and the session key is wrapped for the
 *   current keys (crypto/rekey.ts). The server swaps in the new key packets and
 *   checks that the encrypted data is byte-for-byte what it holds. Neither the
 *   tip's content nor its session key ever leaves this machine;
 * - a tip this key can't open is skipped with a note: a colleague whose key
 *   does open it can re-key it.
 *
 * The inbox copy of a re-keyed tip (`<id>.gpg`, written by fetch) is replaced
 * too, so it opens with the new keys like the server's copy does.
 *
 * @example
 * const r = await rekeyTips({ server, token, key: oldPrivateKey, inboxDir: 'inbox' });
 * // r.rekeyed: ids; r.alreadyCurrent: a count; r.notOpenable: ids; r.failed: [{ id, reason }]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptionKeyIdOf, readPublicKey, type PrivateKey, type PublicKey } from '../../crypto/envelope.ts';
import type { Manifest } from '../../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../../crypto/packets.ts';
import { RekeyError, rewrapSessionKey, sameEncryptedData, tipRecipientIds } from '../../crypto/rekey.ts';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { exists, writeFileAtomic } from './files.ts';
import { JournalistApi, JournalistClientError, type RemoteTip } from './journalist-api.ts';
import { checkServerManifest } from './newsroom-pin.ts';

export type RekeyResult = {
  /** Tips whose key packets were replaced on the server. */
  rekeyed: string[];
  /** Tips already encrypted to exactly the current keys. */
  alreadyCurrent: number;
  /** Tips this key is not among the recipients of; someone else must re-key them. */
  notOpenable: string[];
  failed: { id: string; reason: string }[];
  /** Tips deleted on the server while this ran. */
  gone: number;
  /** Inbox copies replaced with the server's re-keyed bytes. */
  localCopiesUpdated: number;
};

/** One journalist in the current manifest: their key and the key ID a tip names for it. */
type CurrentKey = { key: PublicKey; keyId: string };

export async function rekeyTips(o: {
  server: string;
  token: string;
  /** The unlocked secret key that opens the tips as they are now (for a replaced key: the old one). */
  key: PrivateKey;
  /** The fetch folder: it holds the pinned newsroom key and the local copies. */
  inboxDir: string;
  log?: (line: string) => void;
}): Promise<RekeyResult> {
  const log = o.log ?? (() => {});
  const api = new JournalistApi(o.server, o.token);
  // A revoked token should say so before anything else.
  await api.me();
  if (!(await exists(o.inboxDir))) {
    throw new JournalistClientError(`${o.inboxDir} does not exist: give --inbox the folder you fetch into (fetch --out), which holds the pinned newsroom key.`);
  }
  const { manifest } = await checkServerManifest(o.inboxDir, await api.getManifest(), { onFirstUse: 'refuse' });
  if (!manifest || manifest.recipients.length === 0) throw new JournalistClientError("the newsroom's key list has no journalists in it; nothing was re-keyed. Tell your admin.");
  const current = await currentKeys(manifest);

  const result: RekeyResult = { rekeyed: [], alreadyCurrent: 0, notOpenable: [], failed: [], gone: 0, localCopiesUpdated: 0 };
  let cursor: string | null = null;
  do {
    const page = await api.listTips(cursor);
    for (const tip of page.tips) await rekeyOne(tip);
    cursor = page.nextCursor;
  } while (cursor);
  return result;

  async function rekeyOne(tip: RemoteTip): Promise<void> {
    if (!MESSAGE_ID_RE.test(String(tip?.id)) || !(tip.desk === undefined || tip.desk === null || typeof tip.desk === 'string')) {
      throw new JournalistClientError('the server listed a tip in a shape this tool does not accept; nothing more was re-keyed. Update tipline, or tell your admin.');
    }
    const target = tipRecipientIds(manifest!, tip.desk).map((id) => current.get(id)!);
    const targetIds = target.map((t) => t.keyId);
    try {
      const stored = await api.getTip(tip.id);
      if (sameKeyIds(inspectEncryptedMessage(stored).recipientKeyIds, targetIds)) {
        result.alreadyCurrent++;
        await updateLocalCopy(tip.id, stored);
        return;
      }
      let rekeyed: Uint8Array;
      try {
        rekeyed = await rewrapSessionKey(stored, o.key, target.map((t) => t.key));
      } catch (e) {
        if (e instanceof RekeyError && e.code === 'not-for-this-key') {
          result.notOpenable.push(tip.id);
          log(`skipped tip ${tip.id}: it is not encrypted to this key, so this key can't re-key it. A colleague whose key opens it can run rekey; if no current journalist's key opens it, nobody can.`);
          return;
        }
        throw e;
      }
      await api.putTipCiphertext(tip.id, rekeyed);
      result.rekeyed.push(tip.id);
      log(`re-keyed tip ${tip.id} for ${target.length} current key(s)`);
      await updateLocalCopy(tip.id, rekeyed);
    } catch (e) {
      if (e instanceof JournalistClientError && e.status === 401) throw e;
      if (e instanceof JournalistClientError && e.status === 404) {
        result.gone++;
        log(`tip ${tip.id} was deleted on the server meanwhile; nothing to re-key`);
        return;
      }
      const reason = failureReason(e);
      result.failed.push({ id: tip.id, reason });
      log(`FAILED to re-key tip ${tip.id}: ${reason}`);
    }
  }

  /**
   * Replaces the inbox copy with the server's re-keyed one, but only when both
   * carry the same encrypted data: a server must not be able to swap a good
   * local copy for something else.
   */
  async function updateLocalCopy(id: string, bytes: Uint8Array): Promise<void> {
    const file = join(o.inboxDir, `${id}.gpg`);
    try {
      if (!(await exists(file))) return;
      const local = await readFile(file);
      if (local.equals(bytes)) return;
      if (!sameEncryptedData(new Uint8Array(local), bytes)) {
        log(`warning: ${file} holds different encrypted data than the server's tip ${id}; left it as it is`);
        return;
      }
      await writeFileAtomic(file, bytes);
      result.localCopiesUpdated++;
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
  if (e instanceof JournalistClientError && e.status === 409) return `${e.message}. Run rekey again.`;
  return (e as Error).message ?? String(e);
}
