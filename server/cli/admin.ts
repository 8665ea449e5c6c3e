/** `tipline admin …`: set up a newsroom, manage journalists, desks, tokens, manifests and the signing key; back up, restore and check a deployment. */
import { holdConversation, listHeldConversations, releaseConversation } from '../admin/conversation-hold.ts';
import { checkTokenLabel } from '../admin/token-label.ts';
import { DEFAULT_RETENTION_DAYS } from '../retention.ts';
import type { TokenInfo } from '../store/journalist-store.ts';
import { AdminError, auditLog, addJournalist, initNewsroom, issueToken, listJournalists, removeJournalist, replaceJournalistKey, revokeToken, setJournalistDesks } from '../admin/newsroom.ts';
import { exportNextManifest, importSignedManifest, newsroomStatus, signManifestFile } from '../admin/manifests.ts';
import { rotateSigningKey } from '../admin/signing-key.ts';
import { runDoctor } from '../admin/doctor.ts';
import { createBackup } from '../backup/create-backup.ts';
import { restoreBackup } from '../backup/restore-backup.ts';
import { DEFAULT_LIMITS, serveSettings } from '../config.ts';
import { describeMaintenance, maintainDatabase } from '../admin/maintain.ts';
import { dailyStats, describeDay } from '../admin/stats.ts';
import { withNewsroom } from '../admin/newsroom-access.ts';
import { readDataDir } from '../data-dir.ts';
import { openBlobStore } from '../uploads/blobs.ts';
import { parseOptions, readTextFile, UsageError } from '../../cli/args.ts';

export const ADMIN_USAGE = `Usage:
  tipline admin init --data DIR --signing-key FILE
  tipline admin status --data DIR
  tipline admin journalist add --data DIR [--signing-key FILE] --name NAME --key PUBLIC.asc [--desk NAME[,NAME…]] [--label TEXT]
  tipline admin journalist replace --data DIR [--signing-key FILE] --name NAME --key NEW.asc
  tipline admin journalist remove --data DIR [--signing-key FILE] --name NAME
  tipline admin journalist desks --data DIR [--signing-key FILE] --name NAME --desk NAME[,NAME…]  (empty: every desk)
  tipline admin journalist list --data DIR
  tipline admin token issue --data DIR --name NAME [--label TEXT]   (--label: which laptop, e.g. "Ana's work laptop")
  tipline admin token list --data DIR [--name NAME]
  tipline admin token revoke --data DIR --name NAME --token-id ID
  tipline admin hold --data DIR --thread ID [--release]   (keep a conversation past retention, or let it go)
  tipline admin hold --data DIR --list
  tipline admin manifest export --data DIR --out FILE [--days N]
  tipline admin manifest sign --signing-key FILE --in FILE --out FILE.sig      (on the offline machine)
  tipline admin manifest import --data DIR --in FILE --sig FILE.sig
  tipline admin signing-key rotate --data DIR --signing-key OLD --new-signing-key NEW
  tipline admin audit --data DIR
  tipline admin backup --data DIR --out FILE.tar       (while the server runs)
  tipline admin restore --in FILE.tar --data NEW-DIR   (into a new or empty folder)
  tipline admin stats --data DIR [--days N]           (tips, follow-ups, replies, attachments per UTC day; default 14 days)
  tipline admin maintain --data DIR [--retention-days N]
      (the daily maintenance serve runs after each UTC midnight: retention, sweeps,
      then the database is rebuilt so its page order no longer follows arrival, and
      the WAL emptied; it holds the write lock while it runs)
  tipline admin doctor --data DIR [--host ADDR] [--onion ADDRESS.onion] [--retention-days N]
      (reads the same HOST, TIPLINE_ONION and TIPLINE_RETENTION_DAYS as serve)

  Without --signing-key, a change is recorded but not published: publish it with
  manifest export, sign (offline) and import.

  Every admin command also takes --database-url postgres://… (or reads
  DATABASE_URL): the database is then in PostgreSQL, and DIR holds config.json.`;

/** One token line for admins: its id, day of issue and label; never the secret. */
const describeToken = (t: TokenInfo) => `token ${t.id}\tissued ${t.createdAt.slice(0, 10)}\t${t.label ?? '(no label)'}`;

const desks = (text: string | undefined) => (text ?? '').split(',').map((d) => d.trim()).filter(Boolean);

export async function adminCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const [sub, action, ...rest] = argv;
  const published = (version: number | null) =>
    version === null
      ? 'Not published yet: run manifest export, sign it offline, then manifest import (or pass --signing-key).'
      : `Published manifest version ${version}.`;
  const data = { data: { type: 'string', required: true } } as const;
  const signing = { 'signing-key': { type: 'string' } } as const;

  if (sub === 'init') {
    const o = parseOptions(argv.slice(1), { ...data, 'signing-key': { type: 'string', required: true } }, ADMIN_USAGE);
    const { fingerprint } = await initNewsroom({ dataDir: o.data!, signingKeyFile: o['signing-key']! });
    out(`Created the data directory ${o.data} and the newsroom signing key ${o['signing-key']}.`);
    out('');
    out('Keep the signing key offline (it signs the list of journalist keys); the server does not need it to run.');
    out('Publish this newsroom key fingerprint, in print and on your other channels, so sources can check it:');
    out('');
    out(`  ${fingerprint}`);
    out('');
    out(`Tips, follow-ups and replies are deleted from the server ${DEFAULT_RETENTION_DAYS} days after they arrive (change it with serve --retention-days N or TIPLINE_RETENTION_DAYS; 0 keeps them forever). To keep a conversation longer: tipline admin hold --data ${o.data} --thread ID`);
    out('');
    out(`Next: tipline admin journalist add --data ${o.data} --signing-key ${o['signing-key']} --name NAME --key PUBLIC.asc`);
    return;
  }
  if (sub === 'status') {
    const o = parseOptions(argv.slice(1), data, ADMIN_USAGE);
    const s = await newsroomStatus({ dataDir: o.data! });
    out(`Newsroom key fingerprint: ${s.fingerprint}`);
    for (const p of s.previous) out(`  previous: ${p.fingerprint} (until ${p.until})`);
    out(s.manifest ? `Manifest version ${s.manifest.version}, issued ${s.manifest.issued}, expires ${s.manifest.expires} (${s.manifest.daysLeft} days left)` : 'No manifest published.');
    for (const j of s.journalists) {
      out(`  ${j.name}\t${j.fingerprint.toUpperCase()}\tdesks: ${j.desks.join(', ') || 'all'}\tkey ${j.keyExpires ? `expires ${j.keyExpires} (${j.keyDaysLeft} days)` : 'does not expire'}`);
    }
    for (const w of s.warnings) out(`WARNING: ${w}`);
    return;
  }
  if (sub === 'journalist' && action === 'add') {
    const o = parseOptions(rest, { ...data, ...signing, name: { type: 'string', required: true }, key: { type: 'string', required: true }, desk: { type: 'string' }, label: { type: 'string' } }, ADMIN_USAGE);
    const tokenLabel = checkTokenLabel(o.label);
    const armoredKey = await readTextFile(o.key!, 'public key');
    const r = await addJournalist({ dataDir: o.data!, signingKeyFile: o['signing-key'], name: o.name!, armoredKey, desks: desks(o.desk), tokenLabel });
    out(`Added ${r.journalist.name} (key ${r.journalist.fingerprint.toUpperCase()}, desks: ${r.journalist.desks.join(', ') || 'all'}). ${published(r.manifestVersion)}`);
    out('');
    out('API token (shown once; give it to the journalist over a secure channel, the server keeps only its hash):');
    out('');
    out(`  ${r.token}`);
    return;
  }
  if (sub === 'journalist' && action === 'replace') {
    const o = parseOptions(rest, { ...data, ...signing, name: { type: 'string', required: true }, key: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await replaceJournalistKey({ dataDir: o.data!, signingKeyFile: o['signing-key'], name: o.name!, armoredKey: await readTextFile(o.key!, 'public key') });
    out(`Replaced ${o.name}'s key with ${r.fingerprint.toUpperCase()}. ${published(r.manifestVersion)}`);
    out('Old tips are still encrypted to the old key: a journalist who holds a key that opens them should run: tipline journalist rekey');
    return;
  }
  if (sub === 'journalist' && action === 'remove') {
    const o = parseOptions(rest, { ...data, ...signing, name: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await removeJournalist({ dataDir: o.data!, signingKeyFile: o['signing-key'], name: o.name! });
    out(`Removed ${o.name}: their tokens no longer work. ${published(r.manifestVersion)}`);
    out('Old tips are still encrypted to their key too: a remaining journalist should run: tipline journalist rekey');
    return;
  }
  if (sub === 'journalist' && action === 'desks') {
    const o = parseOptions(rest, { ...data, ...signing, name: { type: 'string', required: true }, desk: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await setJournalistDesks({ dataDir: o.data!, signingKeyFile: o['signing-key'], name: o.name!, desks: desks(o.desk) });
    out(`${o.name} is now in: ${desks(o.desk).join(', ') || 'every desk'}. ${published(r.manifestVersion)}`);
    return;
  }
  if (sub === 'journalist' && action === 'list') {
    const o = parseOptions(rest, data, ADMIN_USAGE);
    const list = await listJournalists({ dataDir: o.data! });
    if (list.length === 0) out('No journalists yet.');
    for (const j of list) {
      out(`${j.name}\t${j.fingerprint.toUpperCase()}\tdesks: ${j.desks.join(', ') || 'all'}\tadded ${j.addedAt.slice(0, 10)}`);
      for (const t of j.tokens) out(`    ${describeToken(t)}`);
    }
    return;
  }
  if (sub === 'token' && action === 'issue') {
    const o = parseOptions(rest, { ...data, name: { type: 'string', required: true }, label: { type: 'string' } }, ADMIN_USAGE);
    const token = await issueToken({ dataDir: o.data!, name: o.name!, label: o.label });
    out(`New API token for ${o.name}${o.label === undefined ? '' : ` (${checkTokenLabel(o.label)})`}, shown once:`);
    out('');
    out(`  ${token}`);
    return;
  }
  if (sub === 'token' && action === 'list') {
    const o = parseOptions(rest, { ...data, name: { type: 'string' } }, ADMIN_USAGE);
    const list = (await listJournalists({ dataDir: o.data! })).filter((j) => o.name === undefined || j.name === o.name);
    if (o.name !== undefined && list.length === 0) throw new AdminError(`no journalist named "${o.name}"; see: tipline admin journalist list`);
    const tokens = list.flatMap((j) => j.tokens.map((t) => `${j.name}\t${describeToken(t)}`));
    if (tokens.length === 0) out('No tokens.');
    for (const line of tokens) out(line);
    return;
  }
  if (sub === 'hold') {
    const o = parseOptions(argv.slice(1), { ...data, thread: { type: 'string' }, release: { type: 'boolean' }, list: { type: 'boolean' } }, ADMIN_USAGE);
    if (o.list) {
      if (o.thread !== undefined || o.release) throw new UsageError('--list takes no --thread or --release');
      const held = await listHeldConversations({ dataDir: o.data! });
      if (held.length === 0) out('No conversation is on hold.');
      for (const h of held) out(`${h.threadId}\ton hold since ${h.heldDay}\t${h.tips} tip(s) and follow-up(s), ${h.replies} reply(ies)`);
      return;
    }
    if (o.thread === undefined) throw new UsageError(`--thread ID (or --list) is required\n\n${ADMIN_USAGE}`);
    if (o.release) {
      await releaseConversation({ dataDir: o.data!, threadId: o.thread });
      out(`Released the hold on conversation ${o.thread.trim().toLowerCase()}: retention deletes its messages past the limit from its next run.`);
      return;
    }
    const r = await holdConversation({ dataDir: o.data!, threadId: o.thread });
    out(r.already ? `Conversation ${o.thread.trim().toLowerCase()} is already on hold (since ${r.heldDay}).` : `Conversation ${o.thread.trim().toLowerCase()} is on hold: retention keeps all its messages until you run this again with --release.`);
    return;
  }
  if (sub === 'token' && action === 'revoke') {
    const o = parseOptions(rest, { ...data, name: { type: 'string', required: true }, 'token-id': { type: 'string', required: true } }, ADMIN_USAGE);
    await revokeToken({ dataDir: o.data!, name: o.name!, tokenId: o['token-id']! });
    out(`Revoked token ${o['token-id']} of ${o.name}: it no longer works.`);
    return;
  }
  if (sub === 'manifest' && action === 'export') {
    const o = parseOptions(rest, { ...data, out: { type: 'string', required: true }, days: { type: 'string' } }, ADMIN_USAGE);
    const days = o.days === undefined ? undefined : Number(o.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 730)) throw new UsageError('--days must be a whole number from 1 to 730');
    const m = await exportNextManifest({ dataDir: o.data!, out: o.out!, days });
    out(`Wrote the unsigned manifest version ${m.version} (${m.recipients.length} journalist(s), expires ${m.expires}) to ${o.out}.`);
    out(`On the offline machine: tipline admin manifest sign --signing-key KEY --in ${o.out} --out ${o.out}.sig`);
    return;
  }
  if (sub === 'manifest' && action === 'sign') {
    const o = parseOptions(rest, { 'signing-key': { type: 'string', required: true }, in: { type: 'string', required: true }, out: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await signManifestFile({ signingKeyFile: o['signing-key']!, in: o.in!, out: o.out! });
    out(`Signed manifest version ${r.version} with ${r.fingerprint}; signature in ${o.out}.`);
    return;
  }
  if (sub === 'manifest' && action === 'import') {
    const o = parseOptions(rest, { ...data, in: { type: 'string', required: true }, sig: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await importSignedManifest({ dataDir: o.data!, in: o.in!, sig: o.sig! });
    out(`Published manifest version ${r.version}.`);
    return;
  }
  if (sub === 'signing-key' && action === 'rotate') {
    const o = parseOptions(rest, { ...data, 'signing-key': { type: 'string', required: true }, 'new-signing-key': { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await rotateSigningKey({ dataDir: o.data!, signingKeyFile: o['signing-key']!, newSigningKeyFile: o['new-signing-key']! });
    out(`New newsroom signing key in ${o['new-signing-key']}; the old key signed it over. Published manifest version ${r.manifestVersion}.`);
    out('');
    out(`New fingerprint (publish it, saying it replaces ${r.previous}):`);
    out('');
    out(`  ${r.fingerprint}`);
    out('');
    out('Restart tipline serve so the pages show the new fingerprint. Keep the old key offline until every client has followed.');
    return;
  }
  if (sub === 'audit') {
    const o = parseOptions(argv.slice(1), data, ADMIN_USAGE);
    for (const e of await auditLog({ dataDir: o.data! })) out(`${e.at}\t${e.actor}\t${e.action}\t${e.detail}`);
    return;
  }
  if (sub === 'backup') {
    const o = parseOptions(argv.slice(1), { ...data, out: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await createBackup({ dataDir: o.data!, out: o.out! });
    const mib = (r.bytes / 1024 / 1024).toFixed(1);
    out(`Wrote ${r.out} (${mib} MiB): the database (${r.tips} tip(s)), config.json and ${r.blobFiles} attachment file(s).`);
    if (r.skipped.length) out(`Left out ${r.skipped.length} entry(ies) in blobs/ that are not plain attachment files: ${r.skipped.slice(0, 5).join(', ')}`);
    out('It holds ciphertext, hashes and public keys only, never the signing key. Keep it like the data directory: private, and off the server too.');
    out(`Restore it with: tipline admin restore --in ${r.out} --data NEW-DIR`);
    return;
  }
  if (sub === 'restore') {
    const o = parseOptions(argv.slice(1), { ...data, in: { type: 'string', required: true } }, ADMIN_USAGE);
    const r = await restoreBackup({ in: o.in!, dataDir: o.data! });
    out(`Restored the backup of ${r.createdDay} into ${r.dataDir}: ${r.tips} tip(s), ${r.blobFiles} attachment file(s).`);
    out(`Next: tipline admin doctor --data ${o.data}, then tipline serve --data ${o.data}`);
    return;
  }
  if (sub === 'stats') {
    const o = parseOptions(argv.slice(1), { ...data, days: { type: 'string' } }, ADMIN_USAGE);
    const days = o.days === undefined ? 14 : Number(o.days);
    if (!Number.isInteger(days) || days < 1 || days > 3660) throw new UsageError('--days must be a whole number from 1 to 3660');
    for (const d of await withNewsroom({ dataDir: o.data! }, (db) => dailyStats(db, { days }))) out(describeDay(d));
    return;
  }
  if (sub === 'maintain') {
    const o = parseOptions(argv.slice(1), { ...data, 'retention-days': { type: 'string' } }, ADMIN_USAGE);
    let settings;
    try {
      settings = serveSettings(o, process.env);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const dir = await readDataDir(o.data!);
    const r = await withNewsroom({ dataDir: o.data! }, async (db) =>
      maintainDatabase(db, { blobs: await openBlobStore(db, dir.blobDir), retentionDays: settings.retentionDays, unclaimedUploadMs: DEFAULT_LIMITS.unclaimedUploadMs }),
    );
    out(`Maintenance done: ${describeMaintenance(r)}.`);
    return;
  }
  if (sub === 'doctor') {
    const o = parseOptions(argv.slice(1), { ...data, host: { type: 'string' }, onion: { type: 'string' }, 'retention-days': { type: 'string' } }, ADMIN_USAGE);
    let settings;
    try {
      settings = serveSettings(o, process.env);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const findings = await runDoctor({ dataDir: o.data!, host: settings.host, onion: settings.onion, retentionDays: settings.retentionDays });
    const label = { ok: 'ok     ', warning: 'WARNING', error: 'ERROR  ' } as const;
    for (const f of findings) out(`${label[f.level]}  ${f.topic}: ${f.message}`);
    const errors = findings.filter((f) => f.level === 'error').length;
    const warnings = findings.filter((f) => f.level === 'warning').length;
    out('');
    out(`${errors} error(s), ${warnings} warning(s).`);
    if (errors) throw new Error(`doctor found ${errors} error(s) in ${o.data}; fix them (see above) and run it again`);
    return;
  }
  throw new UsageError(ADMIN_USAGE);
}
