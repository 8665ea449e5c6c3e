/**
 * Where decrypted conversations live on the journalist's machine, and how to
 * find them again. One folder per conversation, named by its pseudonym, with
 * one numbered folder per message, in the order the conversation happened:
 *
 * ```
 * DIR/quiet-heron-3fa2/
 *   thread.json                 { threadId, pseudonym, replyPublicKey, inbox }
 *   001-tip-<id>/               message.txt, fields.json, meta.json
 *   002-reply-<id>/             message.txt, meta.json
 *   003-followup-<id>/          message.txt, fields.json, meta.json
 * DIR/2026-11-28_<id>/          a tip from before conversations existed
 * ```
 *
 * `decrypt` writes this layout; `reply` and `delete-thread` read it.
 *
 * @module
 * @example
 * const folder = await threadFolderFor('read', threadId); // 'read/quiet-heron-3fa2'
 * messageFolderName({ seq: 1, kind: 'tip', id }); // '001-tip-<id>'
 * await findMessage('read', id); // { folder, thread } or undefined
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isThreadId, pseudonymFor, pseudonymWords } from './pseudonym.ts';
import { writeFileAtomic } from './files.ts';
import { inOrder } from './in-order.ts';

export const THREAD_FILE = 'thread.json';
export const MESSAGE_KINDS = ['tip', 'followup', 'reply'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** What `thread.json` holds. `replyPublicKey` is null until the conversation's first tip is decrypted. */
export type ThreadInfo = {
  threadId: string;
  pseudonym: string;
  /** The source's X25519 reply key (hex), from the first tip. */
  replyPublicKey: string | null;
  /** The fetch folder this conversation was decrypted from: where the pinned newsroom key is. */
  inbox: string | null;
};

/** A random id as the server makes them: 22 base64url characters. */
export const MESSAGE_ID_RE = /^[A-Za-z0-9_-]{22}$/;
const REPLY_KEY_RE = /^[0-9a-f]{64}$/;
const MESSAGE_FOLDER_RE = /^(\d{3,})-(tip|followup|reply)-([A-Za-z0-9_-]{22})$/;
const LEGACY_FOLDER_RE = /^(\d{4}-\d{2}-\d{2}|unknown-day)_([A-Za-z0-9_-]{22})$/;

/** `001-tip-<id>`: three-digit place in the conversation, kind, id. */
export function messageFolderName(m: { seq: number; kind: MessageKind; id: string }): string {
  return `${String(m.seq).padStart(3, '0')}-${m.kind}-${m.id}`;
}

/**
 * The folder of a conversation under `outDir`, whose name is the conversation's
 * pseudonym: `adjective-noun-xxxx`, or, in the rare case that another
 * conversation already holds that name, the two words with more of the thread
 * id, so two sources are never filed together.
 */
export async function threadFolderFor(outDir: string, threadId: string): Promise<string> {
  return (await threadFoldersFor(outDir, [threadId])).get(threadId)!.folder;
}

/** Where {@link threadFoldersFor} files a conversation, and what is there already. */
export type ThreadPlace = {
  folder: string;
  /** The folder exists already (it then holds this conversation, or nothing that says otherwise). */
  onDisk: boolean;
  /** Its `thread.json`, when it has one. */
  info: ThreadInfo | undefined;
};

/**
 * {@link threadFolderFor} for many conversations at once, as if one after
 * another in the order given: a name one of them takes is taken for those
 * after it, even before its folder exists. So conversations can then be
 * decrypted side by side without two of them choosing the same folder, and
 * the names do not depend on which finishes first.
 */
export async function threadFoldersFor(outDir: string, threadIds: readonly string[]): Promise<Map<string, ThreadPlace>> {
  const onDisk = new Set(await readdir(outDir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e))));
  const infos = new Map<string, Promise<ThreadInfo | undefined>>();
  const infoOf = (name: string) => {
    let info = infos.get(name);
    if (!info) infos.set(name, (info = readThreadInfo(join(outDir, name))));
    return info;
  };
  // Each first choice that exists has its thread.json read ahead, a few at a time (a re-run has one per conversation).
  const firstChoices = threadIds.map(pseudonymFor).filter((name) => onDisk.has(name));
  await inOrder(firstChoices, 16, infoOf, () => {});

  const takenBy = new Map<string, string>();
  const places = new Map<string, ThreadPlace>();
  for (const threadId of threadIds) {
    if (places.has(threadId)) continue;
    const candidates = [pseudonymFor(threadId), `${pseudonymWords(threadId)}-${threadId.slice(0, 16)}`, `${pseudonymWords(threadId)}-${threadId}`];
    let place: ThreadPlace | undefined;
    for (const name of candidates) {
      const holder = takenBy.get(name);
      if (holder !== undefined && holder !== threadId) continue;
      if (!onDisk.has(name)) {
        place = { folder: join(outDir, name), onDisk: false, info: undefined };
        break;
      }
      const info = await infoOf(name);
      if (!info || info.threadId === threadId) {
        place = { folder: join(outDir, name), onDisk: true, info };
        break;
      }
    }
    if (!place) throw new Error(`three conversation folders collide with thread ${threadId}; move one of them out of ${outDir}`);
    takenBy.set(basename(place.folder), threadId);
    places.set(threadId, place);
  }
  return places;
}

/** Reads a conversation's `thread.json`; undefined when there is none or it is not one. */
export async function readThreadInfo(threadFolder: string): Promise<ThreadInfo | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(threadFolder, THREAD_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  return parseThreadInfo(raw);
}

/** What {@link readThreadInfo} makes of a parsed `thread.json`: only what is well formed is kept. */
export function parseThreadInfo(raw: unknown): ThreadInfo | undefined {
  const o = raw as Partial<ThreadInfo> | null;
  if (!o || !isThreadId(o.threadId)) return undefined;
  return {
    threadId: o.threadId,
    // The folder name is the pseudonym; it is longer than usual only after a name collision.
    pseudonym: typeof o.pseudonym === 'string' && o.pseudonym.startsWith(`${pseudonymWords(o.threadId)}-`) ? o.pseudonym : pseudonymFor(o.threadId),
    replyPublicKey: typeof o.replyPublicKey === 'string' && REPLY_KEY_RE.test(o.replyPublicKey) ? o.replyPublicKey : null,
    inbox: typeof o.inbox === 'string' && o.inbox !== '' ? o.inbox : null,
  };
}

export async function writeThreadInfo(threadFolder: string, info: ThreadInfo): Promise<void> {
  await writeFileAtomic(join(threadFolder, THREAD_FILE), `${JSON.stringify(info, null, 2)}\n`);
}

export type FoundMessage =
  | { folder: string; kind: MessageKind; threadFolder: string }
  | { folder: string; kind: 'tip'; threadFolder: null };

/** Finds the decrypted message with `id` under `decryptedDir`: in a conversation folder, or a tip from before conversations. */
export async function findMessage(decryptedDir: string, id: string): Promise<FoundMessage | undefined> {
  const top = await readdir(decryptedDir, { withFileTypes: true });
  for (const entry of top) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const legacy = LEGACY_FOLDER_RE.exec(entry.name);
    if (legacy) {
      if (legacy[2] === id) return { folder: join(decryptedDir, entry.name), kind: 'tip', threadFolder: null };
      continue;
    }
    const threadFolder = join(decryptedDir, entry.name);
    for (const inner of await readdir(threadFolder, { withFileTypes: true })) {
      const m = inner.isDirectory() ? MESSAGE_FOLDER_RE.exec(inner.name) : null;
      if (m && m[3] === id) return { folder: join(threadFolder, inner.name), kind: m[2] as MessageKind, threadFolder };
    }
  }
  return undefined;
}

/**
 * Reads a message id from what a journalist might paste: the id itself, a
 * folder name like `001-tip-<id>`, or a path to that folder. Undefined if none.
 */
export function messageIdFrom(text: string): string | undefined {
  const name = basename(text.replace(/[\\/]+$/, ''));
  if (MESSAGE_ID_RE.test(name)) return name;
  return MESSAGE_FOLDER_RE.exec(name)?.[3] ?? LEGACY_FOLDER_RE.exec(name)?.[2];
}
