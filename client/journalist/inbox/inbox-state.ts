/**
 * The inbox's own marks: which messages were read and which conversations are
 * starred. They live in one small JSON file in the decrypted folder
 * (`.inbox-state.json`), never on the server and never in an index of the
 * messages' text. Message ids and conversation keys only.
 *
 * @module
 * @example
 * const state = await InboxState.open('read');
 * await state.markRead(['<message id>'], true);
 * state.isStarred('quiet-heron-3fa2');
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files.ts';

export const STATE_FILE = '.inbox-state.json';
const ID_RE = /^[A-Za-z0-9_-]{1,200}$/;

export class InboxState {
  private constructor(
    private readonly file: string,
    private readonly read: Set<string>,
    private readonly starred: Set<string>,
  ) {}

  /** Reads the state file of `decryptedDir`; a missing or damaged one starts empty (it holds marks, nothing that can't be redone). */
  static async open(decryptedDir: string): Promise<InboxState> {
    const file = join(decryptedDir, STATE_FILE);
    let raw: { read?: unknown; starred?: unknown } = {};
    try {
      raw = JSON.parse(await readFile(file, 'utf8')) as typeof raw;
    } catch {
      /* first run */
    }
    const ids = (v: unknown) => new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && ID_RE.test(x)) : []);
    return new InboxState(file, ids(raw?.read), ids(raw?.starred));
  }

  isRead(messageId: string): boolean {
    return this.read.has(messageId);
  }

  isStarred(conversationKey: string): boolean {
    return this.starred.has(conversationKey);
  }

  async markRead(messageIds: string[], read: boolean): Promise<void> {
    for (const id of messageIds) if (read) this.read.add(id);
    else this.read.delete(id);
    await this.save();
  }

  async star(conversationKey: string, starred: boolean): Promise<void> {
    if (starred) this.starred.add(conversationKey);
    else this.starred.delete(conversationKey);
    await this.save();
  }

  async forget(conversationKey: string, messageIds: string[]): Promise<void> {
    this.starred.delete(conversationKey);
    for (const id of messageIds) this.read.delete(id);
    await this.save();
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, read: [...this.read].sort(), starred: [...this.starred].sort() }, null, 2)}\n`);
  }
}
