/**
 * `tipline journalist fetch`: copies what the server holds for journalists into
 * a local inbox folder, all of it still encrypted:
 *
 * - per tip or follow-up, `<id>.gpg` (the OpenPGP message, exactly as stored)
 *   and `<id>.json` (day received, how it was encrypted, conversation, place in it);
 * - per attachment of a tip, `<blobId>.gpg`: one OpenPGP message per file,
 *   streamed to disk and resumed after a break (see fetch-attachments.ts);
 * - per reply, `<id>.gpg` (the newsroom's OpenPGP copy) and `<id>.json`
 *   (`kind: 'reply'`, conversation, place in it, day sent);
 * - `manifest.json` and `newsroom-key.txt`: the newsroom key is pinned on the
 *   first fetch and every later fetch checks the server against it (see
 *   newsroom-pin.ts). A changed key stops the fetch before anything is downloaded.
 *
 * Incremental: whatever already has its `.gpg` here is not downloaded again.
 * Each file is written through a temporary name and renamed, and a tip's
 * `.gpg` is written last, after its attachments, so an interrupted run leaves
 * no half file and no tip whose attachments are missing. Ids and days from
 * the server are checked before they become file names. Tips are fetched a few
 * dozen per request (`POST /tips/ciphertexts`), a few requests at once, each
 * tip still in that order: `.json`, attachments, `.gpg`; what is printed and
 * counted comes in the server's order all the same (in-order.ts).
 *
 * @example
 * await fetchTips({ server: 'http://127.0.0.1:8080', token, outDir: 'inbox' });
 */
import type { SocksProxy } from '../verify/socks5.ts';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isDay, utcDay } from '../../crypto/day.ts';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { fetchAttachment, type RemoteBlob } from './fetch-attachments.ts';
import { writeFileAtomic } from './files.ts';
import { inOrder } from './in-order.ts';
import { BYTES_PER_REQUEST, JournalistClientError, JournalistApi, TIPS_PER_REQUEST, type RemoteReply, type RemoteTip } from './journalist-api.ts';
import { checkServerManifest } from './newsroom-pin.ts';
import { isThreadId } from './pseudonym.ts';
import { RetentionWarning } from './retention-warning.ts';

/** What fetch writes as `<id>.json` for a reply. */
export type FetchedReply = RemoteReply & { kind: 'reply' };

/**
 * Requests in flight at once, and tips per request for their ciphertexts. One
 * tip at a time, the tool spent most of its time waiting for the server; one
 * request per tip, most of the rest in HTTP on both sides.
 */
const IN_FLIGHT = 4;
const TIPS_PER_BATCH = Math.min(25, TIPS_PER_REQUEST);

export type FetchResult = {
  /** Tips the server will delete within 7 days (retention). */
  expiringSoon?: number;
  /** Conversations with a tip, follow-up or reply the server will delete within 7 days, oldest first. */
  expiringConversations?: { threadId: string; pseudonym: string; oldestDay: string }[];
  /** Tips and follow-ups. */
  fetched: number;
  alreadyHad: number;
  replies: { fetched: number; alreadyHad: number };
  /** Attachment blobs (`<blobId>.gpg`). */
  attachments: { fetched: number; alreadyHad: number };
  /** Set on the first fetch into a folder: the fingerprint of the newsroom key just pinned. */
  pinnedFingerprint?: string;
};

export async function fetchTips(o: {
  server: string;
  /** Tor's SOCKS port, for an onion server (journalist-api.ts). */
  socks?: SocksProxy | undefined;
  token: string;
  outDir: string;
  log?: (line: string) => void;
}): Promise<FetchResult> {
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  const log = o.log ?? (() => {});
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  // A revoked token should say so before anything (even the pin) is written.
  const me = await api.me();
  const retention = new RetentionWarning(me.retentionDays ?? 0, utcDay());
  const checked = await checkServerManifest(o.outDir, await api.getManifest(), { onFirstUse: 'pin', allowStale: true });
  if (checked.warning) log(`warning: ${checked.warning}`);
  if (checked.rotatedFrom) {
    log(`the newsroom key moved from ${checked.rotatedFrom} to ${checked.fingerprint}, through a rotation the old key signed; ${o.outDir} now trusts only the new key. Compare it with the fingerprint your newsroom publishes.`);
  }
  if (checked.pinnedNow) {
    log(`pinned the newsroom key ${checked.fingerprint} in ${o.outDir}. Compare it with the fingerprint your newsroom publishes; if they differ, stop and tell your admin.`);
  }

  const result: FetchResult = { fetched: 0, alreadyHad: 0, replies: { fetched: 0, alreadyHad: 0 }, attachments: { fetched: 0, alreadyHad: 0 } };
  if (checked.pinnedNow) result.pinnedFingerprint = checked.fingerprint;
  // What is already here, read once instead of one stat per tip.
  const present = new Set(await readdir(o.outDir));
  let cursor: string | null = null;
  do {
    const page = await api.listTips(cursor);
    // The whole page is checked before anything of it is written.
    for (const tip of page.tips) checkTipSummary(tip);
    await inOrder(
      batches(page.tips),
      IN_FLIGHT,
      async (batch) => {
        const had = batch.map((tip) => present.has(`${tip.id}.gpg`));
        const missing = batch.filter((_, i) => !had[i]);
        // The .json first: it tells decrypt which .gpg files are this tip's attachments, not tips.
        await inOrder(missing, missing.length || 1, (tip) => writeFileAtomic(join(o.outDir, `${tip.id}.json`), `${JSON.stringify(tip, null, 2)}\n`), () => {});
        // Then the attachments, also for a tip already here (an earlier run may have stopped in one).
        const attachments = new Map<string, { blob: RemoteBlob; outcome: 'fetched' | 'alreadyHad'; lines: string[] }[]>();
        for (const tip of batch) {
          const done = [];
          for (const blob of tip.attachments ?? []) {
            const lines: string[] = [];
            const outcome = await fetchAttachment(api, o.outDir, blob, (line) => lines.push(line));
            done.push({ blob, outcome, lines });
          }
          attachments.set(tip.id, done);
        }
        // The .gpg files last: their presence means "this tip is complete here".
        const ciphertexts = missing.length > 0 ? await api.getTips(missing.map((tip) => tip.id)) : [];
        await inOrder(missing, missing.length || 1, (tip, i) => writeFileAtomic(join(o.outDir, `${tip.id}.gpg`), ciphertexts[i]!), () => {});
        return batch.map((tip, i) => ({ tip, had: had[i]!, attachments: attachments.get(tip.id)! }));
      },
      (outcomes) => {
        for (const { tip, had, attachments } of outcomes) {
          retention.see({ day: tip.receivedDay, threadId: tip.threadId, kind: tip.kind, onHold: tip.onHold === true });
          for (const { blob, outcome, lines } of attachments) {
            for (const line of lines) log(line);
            result.attachments[outcome]++;
            if (outcome === 'fetched') log(`fetched attachment ${blob.id} of tip ${tip.id} (${blob.size} bytes, encrypted)`);
          }
          if (had) {
            result.alreadyHad++;
            continue;
          }
          result.fetched++;
          log(`fetched ${tip.kind === 'followup' ? 'follow-up' : 'tip'} ${tip.id} (received ${tip.receivedDay}, encrypted by the ${tip.via})`);
        }
      },
    );
    cursor = page.nextCursor;
  } while (cursor);

  cursor = null;
  do {
    const page = await api.listReplies(cursor);
    for (const reply of page.replies) checkReplySummary(reply);
    await inOrder(
      page.replies,
      IN_FLIGHT,
      async (reply) => {
        if (present.has(`${reply.id}.gpg`)) return false;
        const bytes = await api.getReplyCopy(reply.id, reply.size);
        const record: FetchedReply = { id: reply.id, kind: 'reply', threadId: reply.threadId, seq: reply.seq, day: reply.day, size: reply.size };
        await writeFileAtomic(join(o.outDir, `${reply.id}.json`), `${JSON.stringify(record, null, 2)}\n`);
        await writeFileAtomic(join(o.outDir, `${reply.id}.gpg`), bytes);
        return true;
      },
      (fetchedNow, reply) => {
        retention.see({ day: reply.day, threadId: reply.threadId, kind: 'reply' });
        if (!fetchedNow) {
          result.replies.alreadyHad++;
          return;
        }
        result.replies.fetched++;
        log(`fetched reply ${reply.id} (sent ${reply.day})`);
      },
    );
    cursor = page.nextCursor;
  } while (cursor);
  // Last, so that the warning is what a journalist sees when fetch ends.
  for (const line of retention.lines()) log(line);
  result.expiringSoon = retention.tips;
  result.expiringConversations = retention.expiringConversations();
  return result;
}

/**
 * A page of tips in runs for one request each: a few dozen (so that several
 * requests are in flight at once) and within what the server sends at once.
 */
function batches(tips: RemoteTip[]): RemoteTip[][] {
  const out: RemoteTip[][] = [];
  let bytes = 0;
  for (const tip of tips) {
    const last = out.at(-1);
    if (last && last.length < TIPS_PER_BATCH && bytes + tip.size <= BYTES_PER_REQUEST) {
      last.push(tip);
      bytes += tip.size;
    } else {
      out.push([tip]);
      bytes = tip.size;
    }
  }
  return out;
}

/** The server's listing is untrusted: an id becomes a file name, so it must be exactly an id. */
function checkTipSummary(tip: RemoteTip): void {
  const ok =
    MESSAGE_ID_RE.test(String(tip?.id)) &&
    isDay(tip.receivedDay) &&
    (tip.via === 'browser' || tip.via === 'server') &&
    (tip.threadId === null || isThreadId(tip.threadId)) &&
    (tip.kind === 'tip' || tip.kind === 'followup') &&
    Number.isSafeInteger(tip.seq) && tip.seq >= 1 &&
    Number.isSafeInteger(tip.size) && tip.size >= 0 &&
    (tip.attachments === undefined || (Array.isArray(tip.attachments) && tip.attachments.length <= 100)) &&
    (tip.onHold === undefined || tip.onHold === true);
  if (!ok) throw new JournalistClientError('the server listed a tip in a shape this tool does not accept; nothing more was fetched. Update tipline, or tell your admin.');
}

function checkReplySummary(reply: RemoteReply): void {
  const ok = MESSAGE_ID_RE.test(String(reply?.id)) && isDay(reply.day) && isThreadId(reply.threadId) && Number.isSafeInteger(reply.seq) && reply.seq >= 1;
  if (!ok) throw new JournalistClientError('the server listed a reply in a shape this tool does not accept; nothing more was fetched. Update tipline, or tell your admin.');
}

export { JournalistClientError };
