/**
 * `tipline journalist delete-thread`: deletes a whole conversation on the
 * server: its tips, follow-ups, replies and the source's ability to log in with
 * that codename. The server overwrites what it deletes (secure_delete and a WAL
 * checkpoint). Files already on journalists' machines are theirs to delete.
 *
 * The conversation is named by its thread id or by its decrypted folder (the
 * one holding `thread.json`), which is what a journalist has at hand.
 *
 * @example
 * await deleteConversation({ server, token, thread: 'read/quiet-heron-3fa2' });
 */
import { stat } from 'node:fs/promises';
import { readThreadInfo } from './conversation-folders.ts';
import { JournalistApi, JournalistClientError } from './journalist-api.ts';
import type { SocksProxy } from './socks-fetch.ts';
import { isThreadId, pseudonymFor } from './pseudonym.ts';

export type DeletedConversation = { threadId: string; pseudonym: string; folder: string | null };

export async function deleteConversation(o: { server: string; token: string; thread: string; socks?: SocksProxy | undefined }): Promise<DeletedConversation> {
  const target = await resolveConversation(o.thread);
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  try {
    await api.deleteThread(target.threadId);
  } catch (e) {
    if (e instanceof JournalistClientError && e.status === 404) {
      throw new JournalistClientError(`the server has no conversation ${target.pseudonym} (thread ${target.threadId}): it was already deleted, or the id is wrong.`, 404);
    }
    throw e;
  }
  return target;
}

async function resolveConversation(thread: string): Promise<DeletedConversation> {
  if (isThreadId(thread)) return { threadId: thread, pseudonym: pseudonymFor(thread), folder: null };
  const isFolder = await stat(thread).then((s) => s.isDirectory(), () => false);
  const info = isFolder ? await readThreadInfo(thread) : undefined;
  if (!info) {
    throw new JournalistClientError(
      `--thread must be a conversation's thread id (64 hex digits) or its decrypted folder, the one holding thread.json (like read/quiet-heron-3fa2); "${thread}" is neither.`,
    );
  }
  return { threadId: info.threadId, pseudonym: info.pseudonym, folder: thread };
}
