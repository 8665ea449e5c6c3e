/**
 * `tipline journalist decrypt`: opens fetched tips, follow-ups and reply copies
 * offline with the journalist's own secret key, and files them by conversation
 * (layout in conversation-folders.ts). Each message folder holds:
 *
 * - `message.txt`: the message, exactly as sent;
 * - `fields.json`: any form fields (tips and follow-ups);
 * - `meta.json`: kind, place in the conversation, the conversation's pseudonym
 *   and id, the day, and for tips who encrypted it (`browser`, or `server` when
 *   the source had JavaScript off and the server saw the plaintext), and the
 *   attachments (`[{ name, savedAs, size, sha256, risky, metadataFound }]`);
 * - `attachments/`: the files the source attached, decrypted, checked and
 *   flagged (see decrypt-attachments.ts). An attachment that is missing or
 *   fails its checks fails the whole message, so a message folder always
 *   holds everything its tip sent.
 *
 * Each conversation's `thread.json` keeps the source's reply key from the first
 * tip, which `reply` needs. A journalist never sees the source's codename: it
 * never reaches the newsroom.
 *
 * A message folder is built under a temporary name (`.partial-<id>`) and renamed
 * into place, so a failed or interrupted run leaves nothing half-written. An
 * existing folder is never overwritten; it is reported as already decrypted.
 *
 * @example
 * const key = await readPrivateKey(armored, passphrase);
 * await decryptTips({ key, inDir: 'inbox', outDir: 'read' });
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isDay } from '../../crypto/day.ts';
import { decryptWithKey, type PrivateKey } from '../../crypto/envelope.ts';
import { decodeTipDocument, type TipDocument } from '../../crypto/tip-document.ts';
import { decryptAttachments, type AttachmentRecord } from './decrypt-attachments.ts';
import {
  MESSAGE_ID_RE,
  messageFolderName,
  readThreadInfo,
  threadFolderFor,
  writeThreadInfo,
} from './conversation-folders.ts';
import type { FetchedReply } from './fetch-tips.ts';
import { exists } from './files.ts';
import type { RemoteTip } from './journalist-api.ts';
import { isThreadId } from './pseudonym.ts';

export type DecryptResult = { decrypted: string[]; alreadyDone: number; failed: { id: string; reason: string }[] };

/** One fetched `<id>.gpg`, with what its `<id>.json` says, checked (the server wrote it, so it is untrusted). */
type Fetched =
  | { id: string; threadId: string; seq: number; kind: 'tip' | 'followup'; tip: RemoteTip }
  | { id: string; threadId: string; seq: number; kind: 'reply'; reply: FetchedReply }
  /** No conversation: a tip from before conversations existed, or a `.json` that is missing or damaged. */
  | { id: string; threadId: null; seq: 0; kind: 'tip'; tip: Partial<RemoteTip> | undefined };

export async function decryptTips(o: { key: PrivateKey; inDir: string; outDir: string; log?: (line: string) => void }): Promise<DecryptResult> {
  const log = o.log ?? (() => {});
  const ids = (await readdir(o.inDir)).filter((n) => n.endsWith('.gpg')).map((n) => n.slice(0, -4)).filter((id) => MESSAGE_ID_RE.test(id));
  const fetched = await Promise.all(ids.map((id) => readFetched(o.inDir, id)));
  // Attachment blobs are `<blobId>.gpg` too; their tip's `.json` lists them, and they are opened with it.
  const blobIds = new Set(fetched.flatMap((f) => (f.kind === 'reply' || !Array.isArray(f.tip?.attachments) ? [] : f.tip.attachments.map((a) => a?.id))));
  const items = fetched.filter((f) => !blobIds.has(f.id));
  // Conversation by conversation, each in its own order; then tips with no conversation.
  items.sort((a, b) => cmp(a.threadId ?? '~', b.threadId ?? '~') || a.seq - b.seq || cmp(a.id, b.id));
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const result: DecryptResult = { decrypted: [], alreadyDone: 0, failed: [] };
  for (const item of items) {
    const threadFolder = item.threadId === null ? null : await threadFolderFor(o.outDir, item.threadId);
    const folder =
      item.threadId === null
        ? join(o.outDir, `${legacyDay(item.tip)}_${item.id}`)
        : join(threadFolder!, messageFolderName({ seq: item.seq, kind: item.kind, id: item.id }));
    if (await exists(folder)) {
      result.alreadyDone++;
      continue;
    }
    const partial = join(o.outDir, `.partial-${item.id}`);
    try {
      const plaintext = await decryptWithKey(new Uint8Array(await readFile(join(o.inDir, `${item.id}.gpg`))), o.key);
      const doc = decodeTipDocument(plaintext);
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { mode: 0o700 });
      await writeFile(join(partial, 'message.txt'), doc.message, { mode: 0o600 });
      if (item.kind !== 'reply') await writeFile(join(partial, 'fields.json'), `${JSON.stringify(doc.fields, null, 2)}\n`, { mode: 0o600 });
      const attachments = item.kind === 'reply' ? [] : await decryptAttachments({ key: o.key, inDir: o.inDir, messageFolder: partial, refs: doc.attachments ?? [] });
      const pseudonym = threadFolder ? basename(threadFolder) : null;
      await writeFile(join(partial, 'meta.json'), `${JSON.stringify(metaFor(item, doc, pseudonym, attachments), null, 2)}\n`, { mode: 0o600 });
      if (threadFolder && item.threadId !== null) {
        await mkdir(threadFolder, { recursive: true, mode: 0o700 });
        await updateThreadInfo(threadFolder, item.threadId, item.kind === 'tip' && doc.type === 'tip' ? doc.replyPublicKey : undefined, resolve(o.inDir), log);
      }
      await rename(partial, folder);
      result.decrypted.push(folder);
      log(`decrypted ${item.kind === 'followup' ? 'follow-up' : item.kind} ${item.id} → ${folder}`);
      for (const a of attachments) {
        log(`  attachment ${join(folder, a.savedAs)} (${a.size} bytes, SHA-256 checked)`);
        if (a.risky) log(`  warning: ${a.savedAs} is an executable, script or macro-enabled file: open it only on an offline machine you can wipe`);
        if (a.metadataFound.length > 0) log(`  warning: ${a.savedAs} still carries hidden information: ${a.metadataFound.join('; ')}`);
      }
    } catch (e) {
      await rm(partial, { recursive: true, force: true });
      const reason = describeFailure(e);
      result.failed.push({ id: item.id, reason });
      log(`could not decrypt ${item.id}: ${reason}`);
    }
  }
  return result;
}

async function readFetched(inDir: string, id: string): Promise<Fetched> {
  let raw: Record<string, unknown> | undefined;
  try {
    raw = JSON.parse(await readFile(join(inDir, `${id}.json`), 'utf8')) as Record<string, unknown>;
  } catch {
    raw = undefined;
  }
  const seq = raw?.seq;
  const threaded = raw && isThreadId(raw.threadId) && Number.isSafeInteger(seq) && (seq as number) >= 1;
  if (threaded && raw!.kind === 'reply') return { id, threadId: raw!.threadId as string, seq: seq as number, kind: 'reply', reply: raw as FetchedReply };
  if (threaded && (raw!.kind === 'tip' || raw!.kind === 'followup')) {
    return { id, threadId: raw!.threadId as string, seq: seq as number, kind: raw!.kind, tip: raw as RemoteTip };
  }
  return { id, threadId: null, seq: 0, kind: 'tip', tip: raw as Partial<RemoteTip> | undefined };
}

/** A day from the server becomes part of a folder name only if it is a real day. */
function legacyDay(tip: Partial<RemoteTip> | undefined): string {
  return isDay(tip?.receivedDay) ? tip.receivedDay : 'unknown-day';
}

function metaFor(item: Fetched, doc: TipDocument, pseudonym: string | null, attachments: AttachmentRecord[]): Record<string, unknown> {
  const where = { id: item.id, kind: item.kind, seq: item.threadId === null ? null : item.seq, threadId: item.threadId, pseudonym, type: doc.type };
  if (item.kind === 'reply') {
    const day = isDay(item.reply.day) ? item.reply.day : null;
    return {
      ...where,
      sentDay: day,
      sentOn: day ? `sent on ${day}` : null,
      note: 'A journalist\'s reply: the newsroom\'s copy. The source reads the same text after logging in with their codename.',
      language: doc.lang ?? null,
    };
  }
  const tip = item.tip;
  const day = isDay(tip?.receivedDay) ? tip.receivedDay : null;
  return {
    ...where,
    receivedDay: day,
    receivedOn: day ? `received on ${day}` : null,
    encryptedBy: tip?.via === 'browser' || tip?.via === 'server' ? tip.via : null,
    encryptedByNote:
      tip?.via === 'server'
        ? 'The source had JavaScript off: the server saw the plaintext in memory and encrypted it on arrival.'
        : 'Encrypted in the source\'s browser: the server never saw the plaintext.',
    manifestVersion: tip?.manifestVersion ?? null,
    language: doc.lang ?? null,
    desk: doc.desk ?? null,
    attachments,
  };
}

/**
 * Writes or completes `thread.json`. The reply key comes only from the
 * conversation's first tip; once set it is never replaced, so a later message
 * can't redirect replies to another key.
 */
async function updateThreadInfo(threadFolder: string, threadId: string, replyPublicKey: string | undefined, inbox: string, log: (line: string) => void): Promise<void> {
  const existing = await readThreadInfo(threadFolder);
  const pseudonym = basename(threadFolder);
  const keep = existing?.replyPublicKey ?? null;
  if (keep && replyPublicKey && keep !== replyPublicKey) {
    log(`warning: conversation ${pseudonym} already has a reply key; the one in this tip was ignored`);
  }
  const next = { threadId, pseudonym, replyPublicKey: keep ?? replyPublicKey ?? null, inbox };
  if (existing && existing.threadId === next.threadId && existing.replyPublicKey === next.replyPublicKey && existing.inbox === next.inbox && existing.pseudonym === pseudonym) return;
  await writeThreadInfo(threadFolder, next);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (/Session key decryption failed|No decryption key packets found|Error decrypting message/i.test(message)) {
    return 'this message is not encrypted to your key';
  }
  if (/Modification detected|MDC|integrity/i.test(message)) return 'the ciphertext was altered (integrity check failed)';
  return message;
}
