/** `tipline journalist …`: fetch, decrypt, reply, delete and re-key, on the journalist's own machine. */
import { parseOptions, readTextFile, UsageError } from '../../cli/args.ts';
import { messageIdFrom } from './conversation-folders.ts';
import { decryptTips } from './decrypt-tips.ts';
import { deleteConversation } from './delete-thread.ts';
import { fetchTips } from './fetch-tips.ts';
import { printable } from './printable.ts';
import { rekeyTips } from './rekey-tips.ts';
import { SECRET_KEY_OPTIONS, secretKeyFromOptions } from './secret-key-option.ts';
import { sendReply } from './send-reply.ts';
import { runInboxCommand } from './inbox/inbox-command.ts';
import { sendOutbox } from './inbox/outbox.ts';
import { readTokenFile } from './token-file.ts';
import { socksOption } from './socks-option.ts';

export const JOURNALIST_USAGE = `Usage:
  tipline journalist fetch --server URL --token-file FILE --out DIR [--socks HOST:PORT]
      Copy new tips, follow-ups, their attachments (<blobId>.gpg, resumed if cut off) and reply copies, all encrypted, into DIR.
      The first fetch pins the newsroom key in DIR/newsroom-key.txt; later ones refuse a different key.
  tipline journalist decrypt (--key SECRET.asc [--passphrase-file FILE] | --gpg [--gpg-homedir DIR]) --in DIR --out DIR
      Decrypt offline into one folder per conversation: OUT/<pseudonym>/001-tip-<id>/, 002-reply-<id>/, …
      Attachments go to each message's attachments/, checked against the tip; risky files and leftover
      hidden information (GPS, author) are flagged in meta.json and here.
      --gpg uses your GnuPG keyring or smartcard through gpg-agent (the key never leaves it; pinentry asks
      for the passphrase or PIN). A protected --key with no --passphrase-file is asked for on the terminal.
  tipline journalist reply --server URL --token-file FILE --in DIR --tip ID (--message TEXT | --message-file FILE) [--inbox DIR] [--allow-new-recipients] [--socks HOST:PORT]
      Answer the conversation that tip (or follow-up) ID belongs to. --in is decrypt's --out;
      --inbox is fetch's --out (default: the one recorded in the conversation's thread.json).
  tipline journalist reply --server URL --token-file FILE --outbox DIR [--socks HOST:PORT]
      Send every reply an offline inbox encrypted into DIR (ciphertext only), deleting each one the server took.
  tipline journalist inbox --in DIR [--inbox DIR] [--outbox DIR] [--port N] [--lang en|zh-Hans] [--server URL --token-file FILE [--socks HOST:PORT]]
      A local web inbox over decrypt's --out, on 127.0.0.1 only, at a secret URL it prints (open it in your browser).
      With --server and --token-file, replies and deletions go to the server; without, it is offline and
      replies are encrypted into --outbox (default: a folder "outbox" beside --in) for reply --outbox.
  tipline journalist delete-thread --server URL --token-file FILE --thread THREAD_ID|FOLDER [--socks HOST:PORT]
      Delete a whole conversation on the server; FOLDER is its decrypted <pseudonym> folder.
  tipline journalist rekey (--key SECRET.asc [--passphrase-file FILE] | --gpg [--gpg-homedir DIR]) --server URL --token-file FILE --inbox DIR [--allow-new-recipients] [--socks HOST:PORT]
      After a journalist leaves or replaces a key: make every tip you can see, its attachments and the
      reply copies in its conversation open with its desk's current keys only. --key must open them as
      they are now (after a key change, your OLD key). Only the key packets change, on this machine;
      the encrypted content never does, and attachments are never downloaded. Safe to run again.
      --inbox is fetch's --out: its pinned newsroom key vouches for the current keys, and its copies are updated.
      Each tip's desk is read from the tip itself; it prints the key list and whom each item goes to.
      --allow-new-recipients: for tips sent before tipline recorded their desk, believe the server's desk
      label even where it lets journalists read a tip they can't read now (ask your admin first).
  Every command that talks to the server takes --socks HOST:PORT (or TIPLINE_SOCKS=HOST:PORT): all its
  requests go through that SOCKS5 proxy, the server's name resolved by the proxy, never here. Use Tor's
  127.0.0.1:9050 (or 127.0.0.1:9150 with Tor Browser running). An .onion --server needs it.`;

export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

const SERVER_OPTIONS = { server: { type: 'string', required: true }, 'token-file': { type: 'string', required: true }, socks: { type: 'string' } } as const;


/** Options whose value may start with "-": one id in 64 does, and so may a message. */
const VALUE_OPTIONS = new Set(['--tip', '--thread', '--message']);

/**
 * Node's parseArgs refuses `--tip -Xyz…` as ambiguous; ids are base64url, so
 * a journalist would hit that for one tip in 64. Glue such values on (`--tip=-Xyz…`).
 */
function attachValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (VALUE_OPTIONS.has(arg) && i + 1 < argv.length) out.push(`${arg}=${argv[++i]}`);
    else out.push(arg);
  }
  return out;
}

export async function journalistCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const [sub, ...given] = argv;
  const rest = attachValues(given);
  if (sub === 'fetch') {
    const o = parseOptions(rest, { ...SERVER_OPTIONS, out: { type: 'string', required: true } }, JOURNALIST_USAGE);
    const token = await readTokenFile(o['token-file']!);
    const r = await fetchTips({ server: o.server!, token, ...socksOption(o.socks), outDir: o.out!, log: out });
    out(`${r.fetched} new tip(s) fetched into ${o.out}; ${r.alreadyHad} already there.`);
    out(`${r.replies.fetched} new reply copy(ies) fetched; ${r.replies.alreadyHad} already there.`);
    if (r.attachments.fetched + r.attachments.alreadyHad > 0) out(`${r.attachments.fetched} new attachment(s) fetched; ${r.attachments.alreadyHad} already there.`);
    return;
  }
  if (sub === 'decrypt') {
    const o = parseOptions(rest, { ...SECRET_KEY_OPTIONS, in: { type: 'string', required: true }, out: { type: 'string', required: true } }, JOURNALIST_USAGE);
    const key = await secretKeyFromOptions(o, JOURNALIST_USAGE);
    const r = await decryptTips({ key, inDir: o.in!, outDir: o.out!, log: out }).finally(() => key.close());
    out(`${r.decrypted.length} message(s) decrypted into ${o.out}; ${r.alreadyDone} already decrypted; ${r.failed.length} failed.`);
    if (r.failed.length > 0) throw new CommandFailed(`${r.failed.length} message(s) could not be decrypted; see the reasons above`);
    return;
  }
  if (sub === 'reply' && rest.some((a) => a === '--outbox' || a.startsWith('--outbox='))) {
    const o = parseOptions(rest, { ...SERVER_OPTIONS, outbox: { type: 'string', required: true } }, JOURNALIST_USAGE);
    const token = await readTokenFile(o['token-file']!);
    const sent = await sendOutbox({ outboxDir: o.outbox!, server: o.server!, token, ...socksOption(o.socks), log: out });
    out(`${sent.length} reply(ies) from the outbox sent.`);
    return;
  }
  if (sub === 'inbox') {
    await runInboxCommand(rest, out);
    return;
  }
  if (sub === 'reply') {
    const o = parseOptions(
      rest,
      {
        ...SERVER_OPTIONS,
        in: { type: 'string', required: true },
        tip: { type: 'string', required: true },
        message: { type: 'string' },
        'message-file': { type: 'string' },
        inbox: { type: 'string' },
        'allow-new-recipients': { type: 'boolean' },
      },
      JOURNALIST_USAGE,
    );
    if ((o.message === undefined) === (o['message-file'] === undefined)) throw new UsageError(`give the reply with exactly one of --message or --message-file\n\n${JOURNALIST_USAGE}`);
    const message = o.message ?? (await readTextFile(o['message-file']!, 'message'));
    if (message.trim() === '') throw new UsageError(`the reply is empty: write something in ${o.message === undefined ? `${o['message-file']}` : '--message'}`);
    const messageId = messageIdFrom(o.tip!);
    if (!messageId) throw new UsageError(`--tip must be a tip id: the 22 characters at the end of a message folder's name (001-tip-<ID>); got "${o.tip}"`);
    const token = await readTokenFile(o['token-file']!);
    const r = await sendReply({
      server: o.server!,
      token,
      ...socksOption(o.socks),
      decryptedDir: o.in!,
      messageId,
      message,
      ...(o.inbox ? { inboxDir: o.inbox } : {}),
      allowNewRecipients: o['allow-new-recipients'] === true,
    });
    out(`reply ${r.replyId} sent to conversation ${r.pseudonym}. The source sees it after logging in with their codename; fetch and decrypt to file the newsroom's copy.`);
    if (r.recipients) {
      const c = r.recipients;
      out(`The newsroom's copy is encrypted to ${c.deskName} in key list version ${c.keyListVersion}: ${c.journalists.map((j) => `${printable(j.name)} (${j.fingerprint})`).join(', ')}.`);
    }
    return;
  }
  if (sub === 'delete-thread') {
    const o = parseOptions(rest, { ...SERVER_OPTIONS, thread: { type: 'string', required: true } }, JOURNALIST_USAGE);
    const token = await readTokenFile(o['token-file']!);
    const r = await deleteConversation({ server: o.server!, token, ...socksOption(o.socks), thread: o.thread! });
    out(`deleted conversation ${r.pseudonym} (thread ${r.threadId}) from the server: its tips, follow-ups and replies are gone, and its codename no longer logs in.`);
    out(`Copies on this machine${r.folder ? ` (${r.folder} and the fetched .gpg files)` : ''} are still here; delete them when you no longer need them.`);
    return;
  }
  if (sub === 'rekey') {
    const o = parseOptions(
      rest,
      { ...SERVER_OPTIONS, ...SECRET_KEY_OPTIONS, inbox: { type: 'string', required: true }, 'allow-new-recipients': { type: 'boolean' } },
      JOURNALIST_USAGE,
    );
    const token = await readTokenFile(o['token-file']!);
    const key = await secretKeyFromOptions(o, JOURNALIST_USAGE);
    const r = await rekeyTips({
      server: o.server!,
      token,
      ...socksOption(o.socks),
      key,
      inboxDir: o.inbox!,
      allowNewRecipients: o['allow-new-recipients'] === true,
      log: out,
    }).finally(() => key.close());
    out(
      `${r.rekeyed.length} tip(s) re-keyed; ${r.alreadyCurrent} already current; ${r.notOpenable.length} not openable with this key; ${r.failed.length} failed.` +
        (r.gone ? ` ${r.gone} deleted meanwhile.` : ''),
    );
    for (const [what, t] of [['attachment(s)', r.attachments], ['reply copy(ies)', r.replies]] as const) {
      out(
        `${t.rekeyed.length} ${what} re-keyed; ${t.alreadyCurrent} already current; ${t.notOpenable.length} not openable with this key; ${t.failed.length} failed.` +
          (t.gone ? ` ${t.gone} deleted meanwhile.` : ''),
      );
    }
    if (r.notOpenable.length + r.attachments.notOpenable.length + r.replies.notOpenable.length > 0) {
      out('If your key was replaced, run rekey again with your OLD secret key: it is the one that opens tips from before the change.');
    }
    const localCopies = r.localCopiesUpdated + r.attachments.localCopiesUpdated + r.replies.localCopiesUpdated;
    if (localCopies) out(`${localCopies} copy(ies) in ${o.inbox} updated to the re-keyed version.`);
    const failed = r.failed.length + r.attachments.failed.length + r.replies.failed.length;
    if (failed > 0) throw new CommandFailed(`${failed} item(s) could not be re-keyed; see the reasons above, then run the same command again`);
    return;
  }
  throw new UsageError(JOURNALIST_USAGE);
}
