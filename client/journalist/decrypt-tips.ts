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
 * Several conversations are decrypted at once, each message after message;
 * their folders are chosen before any of them starts (threadFoldersFor), and
 * what is printed and returned comes in the same order as one at a time.
 *
 * @example
 * const key = await readPrivateKey(armored, passphrase);
 * await decryptTips({ key, inDir: 'inbox', outDir: 'read' });
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isDay } from '../../crypto/day.ts';
import type { PrivateKey } from '../../crypto/envelope.ts';
import { decryptMessage, isSessionKeySource, privateKeySource, SessionKeyError, type SessionKeySource } from '../../crypto/session-key.ts';
import { decodeTipDocument, type TipDocument } from '../../crypto/tip-document.ts';
import { decryptAttachments, type AttachmentRecord } from './decrypt-attachments.ts';
import {
  MESSAGE_ID_RE,
  messageFolderName,
  parseThreadInfo,
  threadFoldersFor,
  type ThreadPlace,
  writeThreadInfo,
} from './conversation-folders.ts';
import type { FetchedReply } from './fetch-tips.ts';
import { inOrder } from './in-order.ts';
import type { RemoteTip } from './journalist-api.ts';
import { isThreadId } from './pseudonym.ts';

export type DecryptResult = { decrypted: string[]; alreadyDone: number; failed: { id: string; reason: string }[] };

/** One fetched `<id>.gpg`, with what its `<id>.json` says, checked (the server wrote it, so it is untrusted). */
type Fetched =
  | { id: string; threadId: string; seq: number; kind: 'tip' | 'followup'; tip: RemoteTip }
  | { id: string; threadId: string; seq: number; kind: 'reply'; reply: FetchedReply }
  /** No conversation: a tip from before conversations existed, or a `.json` that is missing or damaged. */
  | { id: string; threadId: null; seq: 0; kind: 'tip'; tip: Partial<RemoteTip> | undefined };

/**
 * Conversations decrypted at once. openpgp.js works on one core either way;
 * what this overlaps is the waiting for the dozen or so file-system calls each
 * message takes. Each conversation still goes one message after another.
 */
const IN_PARALLEL = 8;

/** A conversation being decrypted: where it goes, and what is there (only its own worker touches it). */
type Thread = ThreadPlace & { pseudonym: string; messages: Set<string> };

type Outcome = { lines: string[] } & ({ folder: string } | { alreadyDone: true } | { failed: string });

export async function decryptTips(o: {
  /** An unlocked key (`--key`), or a session key source (`--gpg`: the key stays in gpg-agent). */
  key: PrivateKey | SessionKeySource;
  inDir: string;
  outDir: string;
  log?: (line: string) => void;
  /** Conversations at once; 1 is one after another. The output is the same either way. */
  inParallel?: number;
}): Promise<DecryptResult> {
  const log = o.log ?? (() => {});
  const keys = isSessionKeySource(o.key) ? o.key : privateKeySource(o.key);
  const ids = (await readdir(o.inDir)).filter((n) => n.endsWith('.gpg')).map((n) => n.slice(0, -4)).filter((id) => MESSAGE_ID_RE.test(id));
  const fetched: Fetched[] = [];
  await inOrder(ids, 16, (id) => readFetched(o.inDir, id), (f) => fetched.push(f));
  // Attachment blobs are `<blobId>.gpg` too; their tip's `.json` lists them, and they are opened with it.
  const blobIds = new Set(fetched.flatMap((f) => (f.kind === 'reply' || !Array.isArray(f.tip?.attachments) ? [] : f.tip.attachments.map((a) => a?.id))));
  const items = fetched.filter((f) => !blobIds.has(f.id));
  // Conversation by conversation, each in its own order; then tips with no conversation.
  items.sort((a, b) => cmp(a.threadId ?? '~', b.threadId ?? '~') || a.seq - b.seq || cmp(a.id, b.id));
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const topLevel = new Set(await readdir(o.outDir));

  // Folders are chosen first, for all conversations in that order, so that working on several at once can't change them.
  const groups: Fetched[][] = [];
  for (const item of items) {
    const last = groups.at(-1);
    if (item.threadId !== null && last?.[0]!.threadId === item.threadId) last.push(item);
    else groups.push([item]);
  }
  const places = await threadFoldersFor(o.outDir, groups.flatMap((g) => (g[0]!.threadId === null ? [] : [g[0]!.threadId])));
  const inbox = resolve(o.inDir);

  const decryptOne = async (item: Fetched, thread: Thread | undefined): Promise<Outcome> => {
    const lines: string[] = [];
    const name = thread ? messageFolderName({ seq: item.seq, kind: item.kind, id: item.id }) : `${legacyDay(item.kind === 'reply' ? undefined : item.tip)}_${item.id}`;
    if ((thread ? thread.messages : topLevel).has(name)) return { lines, alreadyDone: true };
    const folder = join(thread?.folder ?? o.outDir, name);
    const partial = join(o.outDir, `.partial-${item.id}`);
    try {
      const plaintext = await decryptMessage(new Uint8Array(await readFile(join(o.inDir, `${item.id}.gpg`))), keys);
      const doc = decodeTipDocument(plaintext);
      checkLabels(item, doc, (line) => lines.push(line));
      await makeEmptyFolder(partial);
      await writeFile(join(partial, 'message.txt'), doc.message, { mode: 0o600 });
      if (item.kind !== 'reply') await writeFile(join(partial, 'fields.json'), `${JSON.stringify(doc.fields, null, 2)}\n`, { mode: 0o600 });
      const attachments = item.kind === 'reply' ? [] : await decryptAttachments({ keys, inDir: o.inDir, messageFolder: partial, refs: doc.attachments ?? [] });
      await writeFile(join(partial, 'meta.json'), `${JSON.stringify(metaFor(item, doc, thread?.pseudonym ?? null, attachments), null, 2)}\n`, { mode: 0o600 });
      if (thread && item.threadId !== null) {
        if (!thread.onDisk) {
          await mkdir(thread.folder, { recursive: true, mode: 0o700 });
          thread.onDisk = true;
        }
        await updateThreadInfo(thread, item.threadId, item.kind === 'tip' && doc.type === 'tip' ? doc.replyPublicKey : undefined, inbox, (line) => lines.push(line));
      }
      await rename(partial, folder);
      const by = doc.type === 'reply' && item.kind === 'reply' ? (doc.author ? ` (by ${printable(doc.author.name)}, key ${doc.author.fingerprint})` : ' (by a journalist)') : '';
      lines.push(`decrypted ${item.kind === 'followup' ? 'follow-up' : item.kind} ${item.id}${by} → ${folder}`);
      for (const a of attachments) {
        lines.push(`  attachment ${join(folder, a.savedAs)} (${a.size} bytes, SHA-256 checked)`);
        if (a.risky) lines.push(`  warning: ${a.savedAs} is an executable, script or macro-enabled file: open it only on an offline machine you can wipe`);
        if (a.metadataFound.length > 0) lines.push(`  warning: ${a.savedAs} still carries hidden information: ${a.metadataFound.join('; ')}`);
      }
      return { lines, folder };
    } catch (e) {
      await rm(partial, { recursive: true, force: true });
      const reason = describeFailure(e);
      lines.push(`could not decrypt ${item.id}: ${reason}`);
      return { lines, failed: reason };
    }
  };

  const result: DecryptResult = { decrypted: [], alreadyDone: 0, failed: [] };
  await inOrder(
    groups,
    o.inParallel ?? IN_PARALLEL,
    async (group) => {
      const threadId = group[0]!.threadId;
      const thread = threadId === null ? undefined : await openThread(places.get(threadId)!);
      const outcomes: Outcome[] = [];
      for (const item of group) outcomes.push(await decryptOne(item, thread));
      return outcomes;
    },
    (outcomes, group) => {
      for (const [i, outcome] of outcomes.entries()) {
        for (const line of outcome.lines) log(line);
        if ('folder' in outcome) result.decrypted.push(outcome.folder);
        else if ('alreadyDone' in outcome) result.alreadyDone++;
        else result.failed.push({ id: group[i]!.id, reason: outcome.failed });
      }
    },
  );
  return result;
}

/** What a conversation's folder holds already: one listing instead of a look per message. */
async function openThread(place: ThreadPlace): Promise<Thread> {
  const messages = place.onDisk ? await readdir(place.folder).catch(() => []) : [];
  return { ...place, pseudonym: basename(place.folder), messages: new Set(messages) };
}

/** A new, empty `folder`; one left by an interrupted run is emptied first. */
async function makeEmptyFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { mode: 0o700 });
  }
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

/**
 * What the message says about itself, inside the encryption, against what the
 * server's labels say. A message of another kind, or written for another
 * conversation, is refused: filing it would put a source's words in someone
 * else's conversation. Who encrypted it is taken from the message, with a
 * warning when the label disagrees.
 */
function checkLabels(item: Fetched, doc: TipDocument, warn: (line: string) => void): void {
  if (doc.type !== item.kind) {
    throw new Error(`the server lists it as a ${kindWord(item.kind)}, but it is a ${kindWord(doc.type)}; it was not filed`);
  }
  if (doc.threadId !== undefined && doc.threadId !== item.threadId) {
    throw new Error(`the server filed it in another conversation than the one it was written for (${doc.threadId.slice(0, 16)}…); it was not filed`);
  }
  if (item.kind === 'reply') return;
  const deskLabel = item.tip?.desk ?? null;
  if (doc.deskId !== undefined && doc.deskId !== deskLabel) {
    warn(`warning: the server lists ${item.id} under desk ${printable(String(deskLabel ?? 'none (the whole newsroom)'))}, but the message was written for ${printable(String(doc.deskId ?? 'the whole newsroom'))}; rekey and reply go by the message`);
  }
  const label = item.tip?.via;
  if (doc.encryptedBy !== undefined && label !== doc.encryptedBy) {
    warn(`warning: the server labels ${item.id} as encrypted by the ${printable(String(label))}, but the message says by the ${doc.encryptedBy}; the message is believed`);
  }
}

const kindWord = (kind: string) => (kind === 'followup' ? 'follow-up' : kind);

function metaFor(item: Fetched, doc: TipDocument, pseudonym: string | null, attachments: AttachmentRecord[]): Record<string, unknown> {
  const where = { id: item.id, kind: item.kind, seq: item.threadId === null ? null : item.seq, threadId: item.threadId, pseudonym, type: doc.type };
  if (item.kind === 'reply') {
    const day = isDay(item.reply.day) ? item.reply.day : null;
    return {
      ...where,
      sentDay: day,
      sentOn: day ? `sent on ${day}` : null,
      note: 'A journalist\'s reply: the newsroom\'s copy. The source reads the same text after logging in with their codename.',
      // From inside the encryption, as the sender's tool wrote it; null for replies sent before it was recorded.
      author: doc.author ?? null,
      authorNote: doc.author
        ? 'Who sent it, as the sending journalist\'s tool recorded it from the signed key list. It is not signed: treat it as that tool\'s word.'
        : 'Sent by a journalist; which one was not recorded (a reply from an older version of the tool).',
      language: doc.lang ?? null,
      deskId: doc.deskId,
      keyListVersion: doc.keyListVersion ?? null,
    };
  }
  const tip = item.tip;
  const day = isDay(tip?.receivedDay) ? tip.receivedDay : null;
  // From inside the encryption when the message says; from the server's label for messages sent before it did.
  const label = tip?.via === 'browser' || tip?.via === 'server' ? tip.via : null;
  const encryptedBy = doc.encryptedBy ?? label;
  const bound = doc.threadId !== undefined && doc.encryptedBy !== undefined;
  return {
    ...where,
    receivedDay: day,
    receivedOn: day ? `received on ${day}` : null,
    encryptedBy,
    encryptedByNote:
      encryptedBy === 'server'
        ? 'The source had JavaScript off: the server saw the plaintext in memory and encrypted it on arrival.'
        : encryptedBy === 'browser'
          ? 'Encrypted in the source\'s browser: the server never saw the plaintext.'
          : 'Not known: the server gave no label and the message does not say.',
    bound,
    boundNote: bound
      ? 'The conversation and who encrypted it are written inside the encryption, and decrypt checked them against the server\'s labels.'
      : 'Sent before tipline wrote them inside the encryption: the conversation and who encrypted it are the server\'s word.',
    manifestVersion: tip?.manifestVersion ?? null,
    language: doc.lang ?? null,
    desk: doc.desk ?? null,
    // The desk and key list version from inside the encryption (absent: sent before they were recorded); reply takes its keys from these.
    deskId: doc.deskId,
    keyListVersion: doc.keyListVersion ?? null,
    attachments,
  };
}

/**
 * Writes or completes `thread.json`. The reply key comes only from the
 * conversation's first tip; once set it is never replaced, so a later message
 * can't redirect replies to another key. Only this conversation's worker
 * writes the file during a run, so what it last wrote is kept in memory
 * instead of being read back for every message.
 */
async function updateThreadInfo(thread: Thread, threadId: string, replyPublicKey: string | undefined, inbox: string, log: (line: string) => void): Promise<void> {
  const existing = thread.info;
  const keep = existing?.replyPublicKey ?? null;
  if (keep && replyPublicKey && keep !== replyPublicKey) {
    log(`warning: conversation ${thread.pseudonym} already has a reply key; the one in this tip was ignored`);
  }
  const next = { threadId, pseudonym: thread.pseudonym, replyPublicKey: keep ?? replyPublicKey ?? null, inbox };
  if (existing && existing.threadId === next.threadId && existing.replyPublicKey === next.replyPublicKey && existing.inbox === next.inbox && existing.pseudonym === next.pseudonym) return;
  await writeThreadInfo(thread.folder, next);
  // As the next message would read it back.
  thread.info = parseThreadInfo(JSON.parse(JSON.stringify(next)));
}

/** A name for the terminal: control and bidi-override characters (which could rewrite the line shown) become "?". */
function printable(text: string): string {
  return text.replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, '?');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeFailure(e: unknown): string {
  if (e instanceof SessionKeyError && e.code === 'not-for-this-key') return 'this message is not encrypted to your key';
  const message = e instanceof Error ? e.message : String(e);
  // First: openpgp.js says "Error decrypting message: Modification detected." for an altered message.
  if (/Modification detected|MDC|integrity/i.test(message)) return 'the ciphertext was altered (integrity check failed)';
  if (/Session key decryption failed|No decryption key packets found|Error decrypting message/i.test(message)) {
    return 'this message is not encrypted to your key';
  }
  return message;
}
