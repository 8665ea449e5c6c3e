/**
 * A tip's attachments, one after the other (upload-attachment.ts), each
 * described for the tip document: upload id, original name, type, size and the
 * SHA-256 of exactly what was encrypted. These descriptions travel only inside
 * the encrypted tip; the server sees upload ids and sizes.
 *
 * A file already sent in an earlier try of the same tip (the tip itself failed
 * to post, say) is not sent again, as long as the server still holds it
 * unclaimed and it was encrypted to the same keys: on a slow Tor circuit that
 * can save an hour.
 *
 * @example
 * const refs = await sendAttachments(picked, { keys, desk, maxUploadBytes, pow, strings, onStatus });
 */
import type { PublicKey } from '../../crypto/envelope.ts';
import type { AttachmentRef } from '../../crypto/tip-document.ts';
import type { PreparedAttachment } from './prepare-attachment.ts';
import { uploadAttachment, type UploadHooks } from './upload-attachment.ts';

/** A picked file, its progress hooks, and (once sent) what it became. */
export type AttachmentToSend = {
  prepared: PreparedAttachment;
  hooks: UploadHooks;
  sent?: { recipients: string; ref: AttachmentRef };
};

export type SendAttachmentsOptions = {
  keys: PublicKey[];
  desk: string | undefined;
  maxUploadBytes: number;
  /** Solves a proof of work for an upload of `bytes` (its price grows with the size). */
  pow: (bytes: number) => Promise<{ challenge: string; nonce: string }>;
  strings: Record<string, string | undefined>;
  onStatus: (text: string | undefined) => void;
};

export async function sendAttachments(list: AttachmentToSend[], o: SendAttachmentsOptions): Promise<AttachmentRef[]> {
  const t = o.strings;
  const recipients = o.keys.map((k) => k.getFingerprint()).sort().join(',');
  const refs: AttachmentRef[] = [];
  for (const [i, a] of list.entries()) {
    const status = (t.tFiles ?? '{n}/{total}').replace('{n}', String(i + 1)).replace('{total}', String(list.length));
    o.onStatus(status);
    if (a.sent && a.sent.recipients === recipients && (await stillUnclaimed(a.sent.ref.blobId))) {
      refs.push(a.sent.ref);
      continue;
    }
    try {
      const r = await uploadAttachment({
        blob: a.prepared.blob,
        keys: o.keys,
        desk: o.desk,
        maxUploadBytes: o.maxUploadBytes,
        pow: o.pow,
        strings: t,
        hooks: { ...a.hooks, onState: (s) => { if (s === 'sending') o.onStatus(status); a.hooks.onState(s); } },
      });
      const ref: AttachmentRef = { blobId: r.blobId, name: a.prepared.name, type: a.prepared.type, size: r.size, sha256: r.sha256, hashFormat: r.hashFormat, encryption: r.encryption };
      a.sent = { recipients, ref };
      refs.push(ref);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new Error((t.tFailed ?? '{name}: {reason}').replace('{name}', () => a.prepared.name).replace('{reason}', () => reason));
    }
  }
  return refs;
}

/** True while the server still holds the upload, complete and not yet part of a tip. */
async function stillUnclaimed(blobId: string): Promise<boolean> {
  try {
    const res = await fetch(`/api/v1/uploads/${encodeURIComponent(blobId)}`, { cache: 'no-store', credentials: 'same-origin', redirect: 'error' });
    return res.ok && ((await res.json()) as { complete?: boolean }).complete === true;
  } catch {
    return false;
  }
}
