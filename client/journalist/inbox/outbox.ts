/**
 * The outbox of an offline inbox: replies encrypted on the air-gapped machine
 * (send-reply.ts `sealReplyOffline`), one JSON file each, carried to the
 * online machine and posted there by `tipline journalist reply --outbox DIR`.
 * A file holds only ciphertext (the reply box to the source's key and the
 * OpenPGP copy to the newsroom's keys) and the conversation's id; the online
 * machine never sees the plaintext. A file is deleted once the server took it.
 *
 * @module
 * @example
 * await writeToOutbox('outbox', sealed);
 * await sendOutbox({ outboxDir: 'outbox', server, token, log: console.log });
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomId } from '../../../crypto/bytes.ts';
import { isThreadId, pseudonymFor } from '../pseudonym.ts';
import { writeFileAtomic } from '../files.ts';
import type { SocksProxy } from '../../verify/socks5.ts';
import { JournalistApi, JournalistClientError } from '../journalist-api.ts';
import { postSealedReply, type SealedReply, type SentReply } from '../send-reply.ts';

const OUTBOX_FILE_RE = /^reply-[A-Za-z0-9_-]{22}\.json$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Writes one sealed reply into `outboxDir` (made 0700 if missing); returns the file's path. */
export async function writeToOutbox(outboxDir: string, sealed: SealedReply): Promise<string> {
  await mkdir(outboxDir, { recursive: true, mode: 0o700 });
  const file = join(outboxDir, `reply-${randomId()}.json`);
  await writeFileAtomic(file, `${JSON.stringify({ version: 1, ...sealed }, null, 2)}\n`);
  return file;
}

/** The sealed replies waiting in `outboxDir`, oldest name first; a file that is not one is an error, not skipped silently. */
export async function readOutbox(outboxDir: string): Promise<{ file: string; sealed: SealedReply }[]> {
  let names: string[];
  try {
    names = await readdir(outboxDir);
  } catch {
    throw new JournalistClientError(`cannot read the outbox ${outboxDir}: give --outbox the folder the offline inbox wrote replies to`);
  }
  const out: { file: string; sealed: SealedReply }[] = [];
  for (const name of names.filter((n) => OUTBOX_FILE_RE.test(n)).sort()) {
    const file = join(outboxDir, name);
    let raw: Partial<SealedReply> & { version?: unknown };
    try {
      raw = JSON.parse(await readFile(file, 'utf8')) as typeof raw;
    } catch {
      throw new JournalistClientError(`${file} is not a reply the inbox wrote (not JSON); nothing was sent. Move it out of the outbox.`);
    }
    if (raw?.version !== 1 || !isThreadId(raw.threadId) || typeof raw.pseudonym !== 'string' || typeof raw.box !== 'string' || !BASE64_RE.test(raw.box) || typeof raw.copy !== 'string' || !BASE64_RE.test(raw.copy)) {
      throw new JournalistClientError(`${file} is not a reply the inbox wrote; nothing was sent. Move it out of the outbox.`);
    }
    out.push({ file, sealed: { threadId: raw.threadId, pseudonym: pseudonymFor(raw.threadId), box: raw.box, copy: raw.copy } });
  }
  return out;
}

/** Posts every reply in the outbox, deleting each one the server took. Stops at the first refusal. */
export async function sendOutbox(o: { outboxDir: string; server: string; token: string; socks?: SocksProxy | undefined; log: (line: string) => void }): Promise<SentReply[]> {
  const waiting = await readOutbox(o.outboxDir);
  const api = new JournalistApi(o.server, o.token, { socks: o.socks });
  const sent: SentReply[] = [];
  for (const { file, sealed } of waiting) {
    let r: SentReply;
    try {
      r = await postSealedReply(api, sealed);
    } catch (e) {
      const left = waiting.length - sent.length;
      throw new JournalistClientError(`${(e as Error).message} (${sent.length} sent before this one; ${left} still in the outbox, ${file} first)`, (e as JournalistClientError).status);
    }
    await rm(file, { force: true });
    o.log(`reply ${r.replyId} sent to conversation ${r.pseudonym}`);
    sent.push(r);
  }
  return sent;
}
