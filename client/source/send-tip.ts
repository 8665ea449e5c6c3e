/**
 * The browser's half of a tip: fetch the manifest, check its Ed25519 signature
 * and expiry against the newsroom key in the page, pad the tip, encrypt it to
 * every journalist key with openpgp.js, and post the ciphertext.
 *
 * Every failure throws an Error whose message is shown to the source, in their
 * language (the strings come from the page).
 */
import { base64, hex, wipe } from '../../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename, threadIdOf } from '../../crypto/codename.ts';
import { utcDay } from '../../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../../crypto/envelope.ts';
import { ManifestError, tipRecipientIds, verifyManifest } from '../../crypto/manifest.ts';
import { padToBucket } from '../../crypto/padding.ts';
import { solveChallenge, type PowPurpose } from '../../crypto/proof-of-work.ts';
import { encodeTipDocument } from '../../crypto/tip-document.ts';
import { errorCode, errorMessage, request, STALE_WORK_CODES, WORK_ATTEMPTS } from './http.ts';
import { sendAttachments, type AttachmentToSend } from './send-attachments.ts';

export { errorMessage, request };

export type SendTipOptions = {
  message: string;
  lang: string;
  /** The newsroom's Ed25519 public key, hex, from the page. */
  newsroomKey: string;
  /** The manifest version the page was rendered with: an older manifest is refused (rollback). */
  minVersion?: number;
  /** The desk chosen on the form; follow-ups ask the server for their conversation's desk. */
  desk?: string;
  strings: Record<string, string | undefined>;
  onStatus: (text: string | undefined) => void;
  /** Files to send with the tip or follow-up, each encrypted and uploaded on its own before it. */
  attachments?: AttachmentToSend[];
  /** The server's limit for one upload (ciphertext), from the page. */
  maxUploadBytes?: number;
};

const fill = (template: string | undefined, reason: string) => (template ?? '{reason}').replace('{reason}', reason);

/**
 * Sends a first tip. The codename is made here, in the browser: only the lookup
 * secret derived from it goes to the server (which stores just its hash), and
 * the reply public key travels inside the encryption.
 */
export async function sendTip(o: SendTipOptions): Promise<{ receipt: string; codename: string }> {
  const t = o.strings;
  const { keys, bound } = await journalistKeys(o, o.desk);
  const codename = generateCodename(o.lang);
  const derived = deriveCodenameKeys(parseCodename(codename, o.lang).entropy);
  const lookupSecret = base64.encode(derived.lookupSecret);
  const replyPublicKey = hex.encode(derived.replyPublicKey);
  const threadId = threadIdOf(derived.lookupSecret);
  wipe(derived.lookupSecret, derived.replySecretKey);

  // Files first: the tip document describes them, and the tip claims them on arrival.
  const attachments = o.attachments?.length
    ? await sendAttachments(o.attachments, { keys, desk: o.desk, maxUploadBytes: o.maxUploadBytes ?? Infinity, pow: (bytes) => proofOfWork('upload', o, bytes), strings: t, onStatus: o.onStatus })
    : undefined;
  o.onStatus(t.tEncrypting);
  const ciphertext = await encryptDocument({ type: 'tip', message: o.message, fields: {}, lang: o.lang, replyPublicKey, threadId, encryptedBy: 'browser', ...bound, ...(attachments ? { attachments } : {}) }, keys);
  const body = { ciphertext: base64.encode(ciphertext), lookupSecret, desk: o.desk, attachments: attachments?.map((a) => a.blobId) };
  const response = await postWithWork('/api/v1/tips', 'tip', body, o);
  return { receipt: ((await response.json()) as { receipt: string }).receipt, codename };
}

/** Sends a follow-up on the logged-in source's conversation, encrypted here like a tip, with its files if any. */
export async function sendFollowup(o: SendTipOptions): Promise<void> {
  const t = o.strings;
  const thread = await request('/api/v1/source/thread', { cache: 'no-store' }, t.tErrorNetwork);
  if (!thread.ok) throw new Error(fill(t.tErrorServer, await errorMessage(thread)));
  const conversation = (await thread.json()) as { desk: string | null; threadId?: string };
  const desk = conversation.desk ?? undefined;
  // Inside the encryption, so the server can't later file this follow-up under another conversation unseen.
  const threadId = typeof conversation.threadId === 'string' && /^[0-9a-f]{64}$/.test(conversation.threadId) ? conversation.threadId : undefined;
  const { keys, bound } = await journalistKeys(o, desk);
  // Files first, to the conversation's desk, exactly as with a first tip.
  const attachments = o.attachments?.length
    ? await sendAttachments(o.attachments, { keys, desk, maxUploadBytes: o.maxUploadBytes ?? Infinity, pow: (bytes) => proofOfWork('upload', o, bytes), strings: t, onStatus: o.onStatus })
    : undefined;
  o.onStatus(t.tEncrypting);
  const ciphertext = await encryptDocument({ type: 'followup', message: o.message, fields: {}, lang: o.lang, ...(threadId ? { threadId } : {}), encryptedBy: 'browser', ...bound, ...(attachments ? { attachments } : {}) }, keys);
  await postWithWork('/api/v1/source/followups', 'followup', { ciphertext: base64.encode(ciphertext), attachments: attachments?.map((a) => a.blobId) }, o);
}

/**
 * Gets a challenge and solves it with WebCrypto, showing progress. This is the
 * spam guard that needs no IP address; it takes about a second when things are calm.
 */
async function proofOfWork(purpose: PowPurpose, o: SendTipOptions, bytes?: number): Promise<{ challenge: string; nonce: string }> {
  const t = o.strings;
  // An upload's price grows with its size, so the server needs the size to set the work.
  const res = await postJson('/api/v1/challenge', bytes === undefined ? { purpose } : { purpose, bytes }, t);
  const { challenge } = (await res.json()) as { challenge: string };
  o.onStatus(t.tWorking);
  const nonce = await solveChallenge(challenge, {
    onProgress: (tried, expected) => o.onStatus(`${t.tWorking ?? ''} ${Math.min(99, Math.round((100 * tried) / (tried + expected)))}%`),
  });
  return { challenge, nonce };
}

/**
 * Fetches the manifest and returns the keys of the chosen desk's journalists,
 * only if the signature, the dates and the version (no rollback) check out,
 * with what the tip document records of them (`bound`): the desk and the key
 * list version, so the journalists' tools need not take the server's word for either.
 */
async function journalistKeys(o: SendTipOptions, deskId: string | undefined) {
  const t = o.strings;
  const manifestResponse = await request('/api/v1/manifest', { cache: 'no-store' }, t.tErrorNetwork);
  if (!manifestResponse.ok) throw new Error(fill(t.tErrorManifest, await errorMessage(manifestResponse)));
  let manifest;
  try {
    manifest = verifyManifest(await manifestResponse.json(), hex.decode(o.newsroomKey), { today: utcDay(), minVersion: o.minVersion });
  } catch (e) {
    throw new Error(fill(t.tErrorManifest, e instanceof ManifestError ? e.message : 'unreadable manifest'));
  }
  // A first tip goes to the desk chosen on the form (or the only one); a follow-up to its conversation's desk.
  const chosen = deskId ?? (manifest.desks.length === 1 ? manifest.desks[0]!.id : undefined);
  if (o.desk !== undefined && !manifest.desks.some((d) => d.id === o.desk)) throw new Error(fill(t.tErrorManifest, 'the chosen desk is not in the manifest'));
  const byId = new Map(manifest.recipients.map((r) => [r.id, r]));
  const keys = await Promise.all(tipRecipientIds(manifest, chosen).map((id) => readPublicKey(byId.get(id)!.publicKey)));
  return { keys, bound: { deskId: chosen ?? null, keyListVersion: manifest.version } };
}

async function encryptDocument(doc: Parameters<typeof encodeTipDocument>[0], keys: Awaited<ReturnType<typeof journalistKeys>>['keys']): Promise<Uint8Array> {
  const plaintext = padToBucket(encodeTipDocument(doc));
  try {
    return await encryptToKeys(plaintext, keys);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Solves a proof of work and posts `body` with it; when the answer came too
 * late (the work asked rose meanwhile, see STALE_WORK_CODES), solves a new one.
 */
async function postWithWork(url: string, purpose: PowPurpose, body: Record<string, unknown>, o: SendTipOptions): Promise<Response> {
  const t = o.strings;
  for (let attempt = 1; ; attempt++) {
    const pow = await proofOfWork(purpose, o);
    o.onStatus(t.tSending);
    const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, pow }) }, t.tErrorNetwork);
    if (response.ok) return response;
    if (attempt >= WORK_ATTEMPTS || !STALE_WORK_CODES.has((await errorCode(response)) ?? '')) throw new Error(fill(t.tErrorServer, await errorMessage(response)));
  }
}

async function postJson(url: string, body: unknown, t: SendTipOptions['strings']): Promise<Response> {
  const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, t.tErrorNetwork);
  if (!response.ok) throw new Error(fill(t.tErrorServer, await errorMessage(response)));
  return response;
}
