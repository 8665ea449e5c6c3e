/**
 * How a tip gets in. Two doors, one rule: only ciphertext to exactly the current
 * manifest's keys is ever stored.
 *
 * - {@link TipIntake.acceptEncrypted}: the browser encrypted it. The server checks
 *   the packet structure and PKESK key IDs itself; a client's word that a body
 *   is "already encrypted" counts for nothing.
 * - {@link TipIntake.encryptAndStore}: JavaScript was off. The server pads and
 *   encrypts in memory with the same crypto code, wipes what it can, and stores
 *   only the result, marked `server`.
 *
 * @example
 * const intake = new TipIntake(tips, recipients);
 * const id = await intake.acceptEncrypted(bytes);
 */
import { wipe } from '../crypto/bytes.ts';
import { checkRecipients, encryptToKeys } from '../crypto/envelope.ts';
import { NotEncryptedError } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, type TipDocument } from '../crypto/tip-document.ts';
import type { CurrentRecipients } from './current-recipients.ts';
import { ApiError } from './http/api-error.ts';
import { AttachmentClaimError, NoSuchThreadError, ThreadExistsError, type TipStore } from './store/tip-store.ts';
import type { TipKind } from './db/schema.ts';
import type { TiplineDb } from './db/open-database.ts';

/**
 * Which conversation a tip belongs to (a first tip opens it, a follow-up
 * continues it) and the desk it is for: the manifest desk whose journalists'
 * keys, and only theirs, must open it.
 */
export type ThreadRef = { threadId: string; kind: TipKind; desk?: string | null | undefined; attachments?: string[] | undefined };

export class TipIntake {
  constructor(
    private readonly tips: TipStore,
    private readonly recipients: CurrentRecipients,
    private readonly maxAttachmentBytes = Infinity,
  ) {}

  /** `alongside` commits with the tip or not at all (the API spends the proof of work there). */
  async acceptEncrypted(ciphertext: Uint8Array, thread: ThreadRef, alongside?: (trx: TiplineDb) => Promise<void>): Promise<string> {
    const { manifest, desk } = await this.resolve(thread);
    try {
      checkRecipients(ciphertext, desk.keyIds);
    } catch (e) {
      // One fixed message per code, so refusals of one kind all look alike in size and
      // shape; the detail (which packet, how many keys) helps no honest client.
      if (e instanceof NotEncryptedError) {
        throw e.code === 'bad-recipients'
          ? new ApiError(422, 'wrong-recipients', 'The tip must be encrypted to exactly the current journalist keys. Reload the page and try again.')
          : new ApiError(422, 'not-encrypted', 'The body is not an OpenPGP message encrypted to the journalist keys.');
      }
      throw e;
    }
    return this.store({ ciphertext, via: 'browser', manifestVersion: manifest.version, threadId: thread.threadId, kind: thread.kind, desk: desk.id || null, attachments: thread.attachments, alongside });
  }

  /** `alongside` commits with the tip or not at all (the no-JavaScript form spends its token there). */
  async encryptAndStore(doc: TipDocument, thread: ThreadRef, alongside?: (trx: TiplineDb) => Promise<void>): Promise<string> {
    const { manifest, desk } = await this.resolve(thread);
    const keys = desk.keys;
    // The conversation and who encrypted it go inside, where a later change to the labels can't reach.
    const plain = encodeTipDocument({
      ...doc,
      ...(desk.name ? { desk: desk.name } : {}),
      threadId: thread.threadId,
      encryptedBy: 'server',
      deskId: desk.id || null,
      keyListVersion: manifest.version,
    });
    const padded = padToBucket(plain);
    try {
      const ciphertext = await encryptToKeys(padded, keys);
      return await this.store({ ciphertext, via: 'server', manifestVersion: manifest.version, threadId: thread.threadId, kind: thread.kind, desk: desk.id || null, alongside });
    } finally {
      wipe(plain, padded);
    }
  }

  /** The current manifest and the desk this tip is for. A follow-up goes to its conversation's desk. */
  private async resolve(thread: ThreadRef) {
    const current = await this.recipients.get();
    if (thread.kind === 'followup') {
      const threadDesk = await this.tips.threadDesk(thread.threadId);
      return { manifest: current.manifest, desk: { ...current.stored(threadDesk), id: threadDesk ?? '' } };
    }
    const desk = current.desk(thread.desk);
    if (!desk) throw new ApiError(400, 'desk-required', 'Choose a desk: this tip line has several.');
    return { manifest: current.manifest, desk };
  }

  private async store(tip: Parameters<TipStore['add']>[0]): Promise<string> {
    try {
      return await this.tips.add({ ...tip, maxAttachmentBytes: this.maxAttachmentBytes });
    } catch (e) {
      if (e instanceof ThreadExistsError) throw new ApiError(409, 'codename-in-use', 'This codename already has a conversation. Reload the page to get a new one.');
      if (e instanceof NoSuchThreadError) throw new ApiError(404, 'no-conversation', 'This conversation no longer exists.');
      if (e instanceof AttachmentClaimError) throw new ApiError(422, 'bad-attachments', `The attachments can't be added: ${e.message}. Upload them again.`);
      throw e;
    }
  }
}
