/**
 * `tipline journalist reply`: answers a source. The reply goes to the server
 * twice, both encrypted on this machine:
 *
 * - a reply box (crypto/reply-box.ts) to the source's X25519 reply key, taken
 *   from the conversation's first tip; only the source's codename opens it;
 * - an OpenPGP copy to exactly the journalist keys of the conversation's desk
 *   in the newsroom's current manifest, so colleagues can read the
 *   conversation whole. The manifest is checked against the newsroom key
 *   pinned by `fetch` first: a tampered server must not be able to add a key
 *   that reads replies. Which desk, the conversation's decrypted messages say
 *   (their documents record it, inside the encryption); only for a
 *   conversation from before that was recorded does the server's desk label
 *   count, and then it may not add a journalist who can't read the tip
 *   (`allowNewRecipients` overrides). A key list older than one the
 *   conversation's messages were encrypted under is refused: the server is
 *   holding a newer one back. The copy records its conversation, desk and key
 *   list version in turn, for `rekey` and `decrypt`.
 *
 * Both hold the same padded tip document (`type: 'reply'`), so neither size
 * says more than a bucket.
 *
 * @example
 * const { replyId, pseudonym } = await sendReply({ server, token, decryptedDir: 'read', messageId, message: 'Thank you…' });
 */
import type { SocksProxy } from '../verify/socks5.ts';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { base64, hex, wipe } from '../../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../../crypto/envelope.ts';
import { tipRecipientIds } from '../../crypto/rekey.ts';
import { padToBucket } from '../../crypto/padding.ts';
import { sealReply } from '../../crypto/reply-box.ts';
import { encodeTipDocument } from '../../crypto/tip-document.ts';
import type { Manifest } from '../../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../../crypto/packets.ts';
import { findMessage, readThreadInfo } from './conversation-folders.ts';
import { deskWord, newReaders, refuseFrozenKeyList } from './key-list.ts';
import { knownKeyOwners } from './known-keys.ts';
import { printable } from './printable.ts';
import { JournalistApi, JournalistClientError } from './journalist-api.ts';
import { checkServerManifest, MANIFEST_FILE } from './newsroom-pin.ts';

/** The same limit the server puts on a source's message. */
export const MAX_REPLY_CHARS = 100_000;

/** Whom the newsroom's copy was encrypted to, for the journalist to read: the desk, the key list, the journalists. */
export type CopyRecipients = { deskId: string | null; deskName: string; keyListVersion: number; journalists: { name: string; fingerprint: string }[] };

export type SentReply = { replyId: string; threadId: string; pseudonym: string; recipients?: CopyRecipients };

/** A reply encrypted on this machine, ready to post: what an offline inbox leaves in its outbox. */
export type SealedReply = { threadId: string; pseudonym: string; box: string; copy: string; recipients?: CopyRecipients };

export type ReplyInput = {
  /** The folder `decrypt --out` wrote. */
  decryptedDir: string;
  /** A tip, follow-up or reply id in the conversation to answer. */
  messageId: string;
  message: string;
  /** The fetch folder holding the pinned newsroom key; defaults to the one recorded in thread.json. */
  inboxDir?: string;
  /** For a conversation whose messages don't say their desk: believe the server's label even where it adds readers (`--allow-new-recipients`). */
  allowNewRecipients?: boolean;
};

export async function sendReply(o: ReplyInput & {
  server: string;
  token: string;
  /** Tor's SOCKS port, for an onion server (journalist-api.ts). */
  socks?: SocksProxy | undefined;
}): Promise<SentReply> {
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  const sealed = await sealWithKeyList(o, () => api.getManifest(), async () => (await api.me()).id);
  return postSealedReply(api, sealed);
}

/**
 * Encrypts a reply without any network: the key list is the signed manifest
 * that the last fetch saved in the fetch folder, checked again against the
 * pinned newsroom key. This is what an air-gapped inbox writes to its outbox;
 * `reply --outbox` posts it later from the online machine, which never sees
 * the plaintext. If the key list changed meanwhile, the server refuses it
 * (422) and the reply must be written again after a fetch.
 */
export async function sealReplyOffline(o: ReplyInput): Promise<SealedReply> {
  return sealWithKeyList(o, async () => {
    const dir = o.inboxDir ?? (await replyTarget(o)).inboxDir;
    try {
      return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as unknown;
    } catch {
      throw new JournalistClientError(`${join(dir, MANIFEST_FILE)} is missing or damaged: fetch once on the online machine and copy the fetch folder over.`);
    }
  });
}

/** Posts a sealed reply: the same request `reply` makes, with the same answers to refusals. */
export async function postSealedReply(api: JournalistApi, sealed: SealedReply): Promise<SentReply> {
  let replyId: string;
  try {
    replyId = await api.postReply(sealed.threadId, { box: sealed.box, copy: sealed.copy });
  } catch (e) {
    if (e instanceof JournalistClientError && e.status === 404) {
      throw new JournalistClientError(`the server no longer has conversation ${sealed.pseudonym}: it was deleted. Nothing was sent.`, 404);
    }
    if (e instanceof JournalistClientError && e.status === 422) {
      throw new JournalistClientError(`the server refused the reply (${e.message}). The journalist list may have just changed: run the same command again.`, 422);
    }
    throw e;
  }
  return { replyId, threadId: sealed.threadId, pseudonym: sealed.pseudonym, ...(sealed.recipients ? { recipients: sealed.recipients } : {}) };
}

/** The conversation a reply goes to, checked: it has a reply key and a fetch folder with the pinned newsroom key. */
async function replyTarget(o: ReplyInput) {
  if (o.message.trim() === '') throw new JournalistClientError('the reply is empty: write something in --message or --message-file');
  if ([...o.message].length > MAX_REPLY_CHARS) throw new JournalistClientError(`the reply is longer than ${MAX_REPLY_CHARS.toLocaleString('en')} characters; shorten it or split it in two`);

  try {
    await readdir(o.decryptedDir);
  } catch {
    throw new JournalistClientError(`cannot read ${o.decryptedDir}: give --in the folder that \`tipline journalist decrypt --out\` wrote`);
  }
  const found = await findMessage(o.decryptedDir, o.messageId);
  if (!found) {
    throw new JournalistClientError(
      `no decrypted tip with id ${o.messageId} under ${o.decryptedDir}. Check the id (the end of a message folder's name, like 001-tip-<ID>), or run fetch and decrypt first.`,
    );
  }
  if (found.threadFolder === null) {
    throw new JournalistClientError(`tip ${o.messageId} (${found.folder}) was sent before conversations existed: its source has no codename and can't receive replies.`);
  }
  const thread = await readThreadInfo(found.threadFolder);
  if (!thread) throw new JournalistClientError(`${found.threadFolder} has no readable thread.json: run decrypt again to rebuild it.`);
  if (!thread.replyPublicKey) {
    throw new JournalistClientError(`conversation ${thread.pseudonym} has no reply key yet: decrypt the conversation's first tip first (its 001-tip folder holds the key); fetch and decrypt again.`);
  }
  const inboxDir = o.inboxDir ?? thread.inbox;
  if (!inboxDir) throw new JournalistClientError(`${found.threadFolder}/thread.json does not say which fetch folder holds the pinned newsroom key: pass --inbox with your fetch folder.`);
  return { thread: { ...thread, replyPublicKey: thread.replyPublicKey }, threadFolder: found.threadFolder, inboxDir };
}

/** Both halves of a reply, encrypted here, to the key list `getSigned` gives (checked against the pin). */
async function sealWithKeyList(o: ReplyInput, getSigned: () => Promise<unknown>, whoAmI?: () => Promise<string>): Promise<SealedReply> {
  const { thread, threadFolder, inboxDir } = await replyTarget(o);
  const { manifest } = await checkServerManifest(inboxDir, await getSigned(), { onFirstUse: 'refuse' });
  if (!manifest || manifest.recipients.length === 0) throw new JournalistClientError('the newsroom\'s key list has no journalists in it; nothing was sent. Tell your admin.');
  const said = await whatTheConversationSays(threadFolder, thread.threadId);
  refuseFrozenKeyList(manifest, said.keyListVersion, `conversation ${thread.pseudonym} has a message`, 'Nothing was sent.');
  // The newsroom's copy goes to the conversation's desk (the server checks it against its label too).
  const label = await deskOfFetched(inboxDir, said.firstTipId ?? o.messageId);
  let deskId: string | null;
  if (said.deskId !== undefined) {
    if (label !== undefined && said.deskId !== label) {
      throw new JournalistClientError(
        `REFUSING: the server lists conversation ${thread.pseudonym} under ${deskWord(manifest, label)}, but its messages were written for ${deskWord(manifest, said.deskId)}. ` +
          'The server\'s desk labels were changed. Nothing was sent. Tell your newsroom\'s admin.',
      );
    }
    deskId = said.deskId;
  } else {
    deskId = label ?? null;
    const added = await readersAdded(inboxDir, said.firstTipId, manifest, deskId);
    if (added.length > 0 && !o.allowNewRecipients) {
      throw new JournalistClientError(
        `REFUSING: the copy would go to ${added.map((r) => printable(r.name)).join(', ')}, who can't read the conversation's first tip, and its messages were sent before tipline recorded their desk, so only the server's label says they should. ` +
          'Nothing was sent. If your admin confirms the desk, send it again with --allow-new-recipients.',
      );
    }
  }
  const byId = new Map(manifest.recipients.map((r) => [r.id, r]));
  const readers = tipRecipientIds(manifest, deskId).map((id) => byId.get(id)!);
  const keys = await Promise.all(readers.map((r) => readPublicKey(r.publicKey)));
  const recipients: CopyRecipients = {
    deskId,
    deskName: deskWord(manifest, deskId),
    keyListVersion: manifest.version,
    journalists: readers.map((r) => ({ name: r.name, fingerprint: r.fingerprint.toUpperCase() })),
  };

  // Who sends it, as the signed manifest names this token's journalist; it goes only into the newsroom's copy.
  // Offline there is no token to ask with, so the copy names no author ("a journalist").
  const me = whoAmI ? byId.get(await whoAmI()) : undefined;
  const author = me ? { name: me.name, fingerprint: me.fingerprint.toLowerCase() } : undefined;
  const padded = padToBucket(encodeTipDocument({ type: 'reply', message: o.message, fields: {} }));
  const paddedCopy = padToBucket(
    encodeTipDocument({ type: 'reply', message: o.message, fields: {}, threadId: thread.threadId, deskId, keyListVersion: manifest.version, ...(author ? { author } : {}) }),
  );
  let box: Uint8Array;
  let copy: Uint8Array;
  try {
    try {
      box = sealReply(padded, hex.decode(thread.replyPublicKey));
    } catch {
      throw new JournalistClientError(`the reply key of conversation ${thread.pseudonym} is not usable; nothing was sent. The source can't receive replies.`);
    }
    copy = await encryptToKeys(paddedCopy, keys);
  } finally {
    wipe(padded, paddedCopy);
  }
  return { threadId: thread.threadId, pseudonym: thread.pseudonym, box: base64.encode(box), copy: base64.encode(copy), recipients };
}

/**
 * What the conversation's decrypted messages say about themselves (decrypt
 * wrote it into each meta.json from inside the encryption): the desk the first
 * one that records it was written for, the newest key list version any was
 * encrypted under, and the first tip's id.
 */
async function whatTheConversationSays(threadFolder: string, threadId: string): Promise<{ deskId: string | null | undefined; keyListVersion: number; firstTipId: string | undefined }> {
  let deskId: string | null | undefined;
  let keyListVersion = 0;
  let firstTipId: string | undefined;
  const folders = (await readdir(threadFolder, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const folder of folders) {
    let meta: { id?: unknown; kind?: unknown; threadId?: unknown; deskId?: unknown; keyListVersion?: unknown };
    try {
      meta = JSON.parse(await readFile(join(threadFolder, folder, 'meta.json'), 'utf8'));
    } catch {
      continue;
    }
    if (meta.threadId !== threadId) continue;
    if (Number.isSafeInteger(meta.keyListVersion) && (meta.keyListVersion as number) > keyListVersion) keyListVersion = meta.keyListVersion as number;
    if (meta.kind === 'reply') continue;
    if (firstTipId === undefined && meta.kind === 'tip' && typeof meta.id === 'string') firstTipId = meta.id;
    if (deskId === undefined && (meta.deskId === null || typeof meta.deskId === 'string')) deskId = meta.deskId;
  }
  return { deskId, keyListVersion, firstTipId };
}

/** The journalists `deskId`'s keys would add to those who can read the fetched tip `tipId` (none when it can't be told). */
async function readersAdded(inboxDir: string, tipId: string | undefined, manifest: Manifest, deskId: string | null): Promise<Manifest['recipients']> {
  if (!tipId) return [];
  let keyIds: string[];
  try {
    keyIds = inspectEncryptedMessage(new Uint8Array(await readFile(join(inboxDir, `${tipId}.gpg`)))).recipientKeyIds;
  } catch {
    return [];
  }
  return newReaders(manifest, deskId, keyIds, await knownKeyOwners(inboxDir));
}

/** The server's desk label of a fetched tip or follow-up, from the `<id>.json` that fetch wrote (null: none); undefined when there is no such file. */
async function deskOfFetched(inboxDir: string, messageId: string): Promise<string | null | undefined> {
  try {
    const info = JSON.parse(await readFile(join(inboxDir, `${messageId}.json`), 'utf8')) as { desk?: string | null };
    return typeof info.desk === 'string' ? info.desk : null;
  } catch {
    return undefined;
  }
}
