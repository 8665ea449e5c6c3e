/**
 * Reads the folders `decrypt` writes (conversation-folders.ts) into memory, as
 * the inbox shows them: conversations with their messages in order, each with
 * its text, who wrote it, its day and its attachments. Everything here came
 * from a source or from a server and is untrusted: values are checked and
 * anything malformed is dropped, never guessed. Nothing is written.
 *
 * @module
 * @example
 * const conversations = await readConversations('read');
 * conversations[0].messages[0].text; // the tip, exactly as sent
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDay } from '../../../crypto/day.ts';
import { readThreadInfo } from '../conversation-folders.ts';

export type Attachment = { name: string; savedAs: string; size: number; sha256: string; risky: boolean; metadataFound: string[] };
export type Author = { name: string; fingerprint: string };

export type Message = {
  id: string;
  kind: 'tip' | 'followup' | 'reply';
  seq: number;
  /** The folder name, the message's key in URLs. */
  folderName: string;
  folder: string;
  day: string | null;
  text: string;
  fields: Record<string, string>;
  /** Tips and follow-ups: `server` when the source had JavaScript off and the server saw the plaintext. */
  encryptedBy: 'browser' | 'server' | null;
  desk: string | null;
  /** Replies: the journalist who wrote it, when the newsroom copy names them. */
  author: Author | null;
  attachments: Attachment[];
};

export type Conversation = {
  /** The conversation's folder name under `--in`: its pseudonym (or `DAY_ID` for a tip from before conversations). */
  key: string;
  folder: string;
  pseudonym: string;
  threadId: string | null;
  /** thread.json has the source's reply key (from the first tip): a reply can be encrypted to it. */
  canReply: boolean;
  messages: Message[];
  desks: string[];
  firstDay: string | null;
  lastDay: string | null;
};

const MESSAGE_FOLDER_RE = /^(\d{3,})-(tip|followup|reply)-([A-Za-z0-9_-]{22})$/;
const LEGACY_FOLDER_RE = /^(\d{4}-\d{2}-\d{2}|unknown-day)_([A-Za-z0-9_-]{22})$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

/** Every conversation under `decryptedDir`, the most recent first. */
export async function readConversations(decryptedDir: string): Promise<Conversation[]> {
  const conversations: Conversation[] = [];
  for (const entry of await readdir(decryptedDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const folder = join(decryptedDir, entry.name);
    const legacy = LEGACY_FOLDER_RE.exec(entry.name);
    if (legacy) {
      const m = await readMessage(folder, entry.name, { id: legacy[2]!, kind: 'tip', seq: 1 });
      if (m) conversations.push(conversationOf(entry.name, folder, entry.name, null, false, [m]));
      continue;
    }
    const info = await readThreadInfo(folder);
    if (!info) continue;
    const messages: Message[] = [];
    for (const inner of (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const match = inner.isDirectory() ? MESSAGE_FOLDER_RE.exec(inner.name) : null;
      if (!match) continue;
      const m = await readMessage(join(folder, inner.name), inner.name, { id: match[3]!, kind: match[2] as Message['kind'], seq: Number(match[1]) });
      if (m) messages.push(m);
    }
    if (messages.length > 0) conversations.push(conversationOf(entry.name, folder, info.pseudonym, info.threadId, info.replyPublicKey !== null, messages));
  }
  return conversations.sort((a, b) => cmp(b.lastDay ?? '', a.lastDay ?? '') || cmp(a.key, b.key));
}

function conversationOf(key: string, folder: string, pseudonym: string, threadId: string | null, canReply: boolean, messages: Message[]): Conversation {
  messages.sort((a, b) => a.seq - b.seq);
  const days = messages.map((m) => m.day).filter((d): d is string => d !== null).sort();
  const desks = [...new Set(messages.map((m) => m.desk).filter((d): d is string => d !== null))];
  return { key, folder, pseudonym, threadId, canReply, messages, desks, firstDay: days[0] ?? null, lastDay: days.at(-1) ?? null };
}

async function readMessage(folder: string, folderName: string, where: Pick<Message, 'id' | 'kind' | 'seq'>): Promise<Message | undefined> {
  let text: string;
  let meta: Record<string, unknown>;
  try {
    text = await readFile(join(folder, 'message.txt'), 'utf8');
    meta = JSON.parse(await readFile(join(folder, 'meta.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // not a whole message folder: decrypt renames a folder into place only when it is complete
  }
  if (!meta || typeof meta !== 'object') return undefined;
  const day = [meta.receivedDay, meta.sentDay].find(isDay) ?? null;
  return {
    ...where,
    folderName,
    folder,
    day,
    text,
    fields: await readFields(folder),
    encryptedBy: meta.encryptedBy === 'browser' || meta.encryptedBy === 'server' ? meta.encryptedBy : null,
    desk: typeof meta.desk === 'string' && meta.desk !== '' ? meta.desk : null,
    author: authorOf(meta.author),
    attachments: Array.isArray(meta.attachments) ? await checkedAttachments(folder, meta.attachments) : [],
  };
}

async function readFields(folder: string): Promise<Record<string, string>> {
  try {
    const raw = JSON.parse(await readFile(join(folder, 'fields.json'), 'utf8')) as unknown;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    return Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

function authorOf(raw: unknown): Author | null {
  const a = raw as Partial<Author> | null;
  return a && typeof a.name === 'string' && a.name.trim() !== '' && typeof a.fingerprint === 'string' ? { name: a.name, fingerprint: a.fingerprint } : null;
}

/** Only attachments whose file really sits in the message's `attachments/` folder, under the name decrypt gave it. */
async function checkedAttachments(folder: string, raw: unknown[]): Promise<Attachment[]> {
  const out: Attachment[] = [];
  for (const r of raw as Partial<Attachment>[]) {
    if (!r || typeof r.savedAs !== 'string' || !/^attachments\/[^/\\]+$/.test(r.savedAs) || r.savedAs.includes('..')) continue;
    if (!Number.isSafeInteger(r.size) || typeof r.sha256 !== 'string' || !SHA256_RE.test(r.sha256)) continue;
    const onDisk = await stat(join(folder, r.savedAs)).then((s) => s.isFile(), () => false);
    if (!onDisk) continue;
    out.push({
      name: typeof r.name === 'string' ? r.name : r.savedAs.slice('attachments/'.length),
      savedAs: r.savedAs,
      size: r.size!,
      sha256: r.sha256,
      // Anything not plainly marked safe is treated as risky.
      risky: r.risky !== false,
      metadataFound: Array.isArray(r.metadataFound) ? r.metadataFound.filter((x): x is string => typeof x === 'string') : [],
    });
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
