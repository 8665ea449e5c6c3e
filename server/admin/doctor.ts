/**
 * `tipline admin doctor`: looks over a deployment and says, in plain words,
 * what is wrong and how to fix it. An *error* is something that loses tips or
 * exposes them (the CLI then exits non-zero); a *warning* is something to
 * decide on purpose. It changes nothing.
 *
 * It reads the same flags and environment as `tipline serve` (host, onion
 * address, retention), so run it with the settings the server runs with.
 *
 * @example
 * const findings = await runDoctor({ dataDir: '/srv/tipline', host: '127.0.0.1', onion: undefined, retentionDays: 90 });
 * for (const f of findings) console.log(f.level, f.topic, f.message);
 */
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import { utcDay } from '../../crypto/day.ts';
import { readDataDir } from '../data-dir.ts';
import { openDatabase } from '../db/open-database.ts';
import { describeDatabaseUrl, isPostgresUrl } from '../db/postgres.ts';
import { checkOnionAddress } from '../onion-address.ts';
import { recentRefusals } from '../abuse/no-js-refusals.ts';
import { newsroomStatus } from './manifests.ts';
import { JUDGED_POSTGRES_SETTINGS, judgePostgresSettings } from './postgres-settings.ts';
import { containsSigningKey } from './signing-key-scan.ts';
import type { Finding, FindingLevel } from './finding.ts';

export type { Finding, FindingLevel } from './finding.ts';

export type DoctorOptions = {
  dataDir: string;
  /** PostgreSQL instead of the folder's SQLite file (else `DATABASE_URL`). */
  databaseUrl?: string | undefined;
  host: string;
  onion?: string | undefined;
  retentionDays: number;
  /** For tests: the day to judge expiry by. */
  today?: string;
  /** Below this much free space: a warning (default 1 GiB). */
  warnFreeBytes?: number;
  /** Below this much: an error, tips will soon fail to save (default 100 MiB). */
  errorFreeBytes?: number;
};

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export async function runDoctor(o: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (level: FindingLevel, topic: string, message: string) => findings.push({ level, topic, message });

  let dir;
  try {
    await readdir(o.dataDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') {
      add('error', 'data directory', `this user cannot read ${o.dataDir}. Fix: run doctor as the user tipline serve runs as (e.g. sudo -u tipline …).`);
      return findings;
    }
  }
  try {
    dir = await readDataDir(o.dataDir, o);
  } catch (e) {
    add('error', 'data directory', (e as Error).message);
    return findings;
  }

  await checkFiles(dir.dir, add);
  const postgres = isPostgresUrl(dir.database);
  try {
    await checkNewsroom(o.dataDir, o.databaseUrl, o.today ?? utcDay(), add);
    if (postgres) await checkPostgresSettings(dir.database, add);
    else await checkDatabaseSettings(dir.database, add);
    await checkNoJsBudgets(dir.database, o.today ?? utcDay(), add);
  } catch (e) {
    if (!postgres) throw e;
    // Can't reach PostgreSQL: the message names the database, never its password (db/postgres.ts).
    add('error', 'database', `${(e as Error).message}. Fix: check DATABASE_URL, and that the database server runs and lets this role in.`);
  }
  checkListenAddress(o.host, add);
  checkOnion(o.onion, add);
  if (o.retentionDays === 0) add('warning', 'retention', 'tips, follow-ups and replies are kept forever (--retention-days 0). Whoever seizes the server gets all of them. Fix: set --retention-days (or TIPLINE_RETENTION_DAYS), e.g. 90, unless keeping everything is a decision you made.');
  else add('ok', 'retention', `tips are deleted after ${o.retentionDays} days`);
  await checkDiskSpace(dir.dir, o.warnFreeBytes ?? GIB, o.errorFreeBytes ?? 100 * MIB, add);
  return findings;
}

type Add = (level: FindingLevel, topic: string, message: string) => void;

/** Permissions (0700 folders, 0600 files), no links, and no signing key anywhere in the data directory. */
async function checkFiles(root: string, add: Add): Promise<void> {
  const rootMode = (await lstat(root)).mode & 0o777;
  if (rootMode & 0o077) add('error', 'permissions', `${root} is ${octal(rootMode)}: other users on this machine can look inside. Fix: chmod 700 ${root}`);
  else add('ok', 'permissions', `${root} is ${octal(rootMode)}`);

  const open: string[] = [];
  const links: string[] = [];
  const keys: string[] = [];
  const visit = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder)) {
      const path = join(folder, entry);
      const info = await lstat(path).catch(() => undefined);
      if (!info) continue; // deleted meanwhile (the server is running)
      const name = relative(root, path);
      if (info.isSymbolicLink()) links.push(name);
      else if (info.mode & 0o077) open.push(`${name} (${octal(info.mode & 0o777)})`);
      if (info.isDirectory()) await visit(path);
      else if (info.isFile() && (await containsSigningKey(path))) keys.push(path);
    }
  };
  await visit(root);

  if (open.length) {
    const shown = open.slice(0, 5).join(', ') + (open.length > 5 ? ` and ${open.length - 5} more` : '');
    add('error', 'permissions', `${open.length} file(s) or folder(s) in the data directory can be read by other users: ${shown}. Fix: chmod -R go-rwx ${root} (tipline serve keeps new files private; older versions did not)`);
  } else add('ok', 'permissions', 'every file in the data directory is readable by its owner only');
  if (links.length) add('warning', 'permissions', `the data directory holds symbolic link(s) that tipline never makes: ${links.slice(0, 5).join(', ')}. Fix: check where they point, and replace them with the real files or remove them.`);
  for (const key of keys) {
    add('error', 'signing key', `${key} is the newsroom signing key (or a copy). Anyone who takes the server could then sign a manifest with their own "journalist" key. Fix: make sure the offline machine has it, then delete it here (rm ${key}), and keep it only offline.`);
  }
  if (!keys.length) add('ok', 'signing key', 'no newsroom signing key in the data directory');
}

async function checkNewsroom(dataDir: string, databaseUrl: string | undefined, today: string, add: Add): Promise<void> {
  const s = await newsroomStatus({ dataDir, databaseUrl, today });
  const publish = `tipline admin manifest export --data ${dataDir} --out next.json, sign it offline (tipline admin manifest sign), then tipline admin manifest import`;
  if (!s.manifest) {
    add('error', 'manifest', `no manifest is published, so sources cannot send tips. Fix: add a journalist with tipline admin journalist add --data ${dataDir} --signing-key FILE --name NAME --key KEY.asc`);
  } else if (s.manifest.daysLeft < 0) {
    add('error', 'manifest', `the manifest (version ${s.manifest.version}) expired on ${s.manifest.expires}, so sources cannot send tips. Fix: ${publish}.`);
  } else if (s.manifest.daysLeft < 14) {
    add('warning', 'manifest', `the manifest (version ${s.manifest.version}) expires in ${s.manifest.daysLeft} day(s), on ${s.manifest.expires}; then sources cannot send tips. Fix: ${publish}.`);
  } else {
    add('ok', 'manifest', `version ${s.manifest.version}, expires ${s.manifest.expires} (${s.manifest.daysLeft} days left)`);
  }
  if (s.manifest && s.journalists.length === 0) add('error', 'journalist keys', 'there are no journalists, so no one can read tips. Fix: tipline admin journalist add');
  let soon = 0;
  for (const j of s.journalists) {
    if (j.keyDaysLeft === null || j.keyDaysLeft >= 30) continue;
    soon++;
    const fix = `Fix: ask ${j.name} for a renewed or new public key, then run tipline admin journalist replace --data ${dataDir} --name "${j.name}" --key NEW.asc.`;
    if (j.keyDaysLeft < 0) add('error', 'journalist keys', `${j.name}'s key expired on ${j.keyExpires}. ${fix}`);
    else add('warning', 'journalist keys', `${j.name}'s key expires in ${j.keyDaysLeft} day(s), on ${j.keyExpires}. ${fix}`);
  }
  if (s.journalists.length && !soon) add('ok', 'journalist keys', `${s.journalists.length} key(s), none expiring within 30 days`);
}

/** Opens the database the way the server does and reads back the settings DESIGN.md requires. */
async function checkDatabaseSettings(dbFile: string, add: Add): Promise<void> {
  const db = await openDatabase(dbFile, { migrate: false });
  try {
    const one = async (pragma: string) => Object.values((await sql.raw<Record<string, unknown>>(`PRAGMA ${pragma}`).execute(db)).rows[0] ?? {})[0];
    const secureDelete = Number(await one('secure_delete'));
    const journal = String(await one('journal_mode'));
    const synchronous = Number(await one('synchronous'));
    if (secureDelete !== 1) add('error', 'database', 'secure_delete is off: deleted tips stay readable in the database file. Fix: this build of tipline is broken; reinstall it (npm ci) and report the bug.');
    else add('ok', 'database', 'secure_delete is on (deleted tips are overwritten)');
    if (journal !== 'wal' || synchronous !== 2) add('error', 'database', `the database runs with journal_mode=${journal}, synchronous=${synchronous}; tipline needs wal and FULL (2) so that a tip with a receipt survives a power cut. Fix: reinstall tipline (npm ci) and report the bug.`);
  } finally {
    await db.destroy();
  }
}

/**
 * PostgreSQL has no secure_delete: a deleted tip's row stays in the table's
 * files until VACUUM lets the space be reused and something overwrites it, and
 * in WAL segments, archives and replicas, whose commit records carry the time
 * of day. What the settings decide is judged in postgres-settings.ts.
 */
async function checkPostgresSettings(database: string, add: Add): Promise<void> {
  const db = await openDatabase(database, { migrate: false });
  try {
    const rows = await db
      .selectFrom(sql<{ name: string; setting: string }>`pg_settings`.as('s'))
      .select(['s.name', 's.setting'])
      .where('s.name', 'in', [...JUDGED_POSTGRES_SETTINGS])
      .execute();
    add('ok', 'database', `PostgreSQL at ${describeDatabaseUrl(database)} answers`);
    for (const f of judgePostgresSettings(Object.fromEntries(rows.map((r) => [r.name, r.setting])))) add(f.level, f.topic, f.message);
    add(
      'warning',
      'database',
      'PostgreSQL has no secure delete, and its WAL keeps each commit\'s time of day next to the rows it inserted: deleted tips (ciphertext) stay in its data files until VACUUM frees the space and new rows overwrite it, and tips with their times of arrival stay in WAL segments until they are recycled, and in WAL archives, replicas and pg_dump files. Decide on purpose: keep the database on an encrypted disk, keep wal_keep_size small, WAL archives and dumps only as long as the retention period, and see docs/deploy.md ("PostgreSQL (more than one instance)").',
    );
  } finally {
    await db.destroy();
  }
}

/** Days a dry no-JavaScript budget is reported for. */
export const DRY_BUDGET_DAYS = 7;

/**
 * Whether a no-JavaScript budget ran dry in the last {@link DRY_BUDGET_DAYS}
 * UTC days (server/abuse/no-js-refusals.ts): each such refusal was a source,
 * or a flooder, told "the tip line is busy". Days only; the table has no time.
 */
async function checkNoJsBudgets(database: string, today: string, add: Add): Promise<void> {
  const db = await openDatabase(database, { migrate: false });
  try {
    if (!(await db.introspection.getTables()).some((t) => t.name === 'no_js_refusals')) {
      add('warning', 'no-JavaScript budget', 'the database has no record of refused no-JavaScript posts yet: it was made by an older tipline. Fix: start tipline serve once (it upgrades the database), then run doctor again.');
      return;
    }
    const refused = await recentRefusals(db, today, DRY_BUDGET_DAYS);
    const what = { tip: { name: 'first tips', flags: '--no-js-burst and --no-js-per-minute' }, followup: { name: 'follow-ups', flags: '--no-js-followup-burst and --no-js-followups-per-minute' } } as const;
    for (const kind of ['tip', 'followup'] as const) {
      const days = refused[kind];
      if (!days.length) continue;
      const total = days.reduce((n, d) => n + d.refused, 0);
      add(
        'warning',
        'no-JavaScript budget',
        `the budget for ${what[kind].name} without JavaScript ran dry on ${days.map((d) => d.day).join(', ')} (${total} post(s) refused in all): each was told the tip line is busy, and some may have been real sources. Fix: if the tip line is that busy, raise the budget (tipline serve ${what[kind].flags}, see docs/admin.md "Limits and abuse"); if it was a flood, turn on Tor's onion-service proof-of-work defence (HiddenServicePoWDefensesEnabled 1, as in deploy/torrc).`,
      );
    }
    if (!refused.tip.length && !refused.followup.length) add('ok', 'no-JavaScript budget', `neither budget ran dry in the last ${DRY_BUDGET_DAYS} days`);
  } finally {
    await db.destroy();
  }
}

function checkListenAddress(host: string, add: Add): void {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)) {
    add('ok', 'listen address', `tipline serve listens on ${host} (loopback: only Tor on this machine reaches it)`);
    return;
  }
  const every = h === '0.0.0.0' || h === '::';
  add(
    'warning',
    'listen address',
    `tipline serve listens on ${every ? 'every network interface' : host} (--host ${host}), not on loopback: anyone who can reach this machine can reach the tip line directly, outside Tor. Fix: --host 127.0.0.1 (or HOST=127.0.0.1). Inside the Docker image this is expected; publish the port on loopback only: -p 127.0.0.1:8080:8080.`,
  );
}

function checkOnion(onion: string | undefined, add: Add): void {
  if (!onion) {
    add('warning', 'onion address', 'no onion address is set, so pages send no Onion-Location header to Tor Browser. Fix: set up Tor with deploy/torrc, read the address from /var/lib/tor/tipline/hostname, and pass --onion ADDRESS.onion (or TIPLINE_ONION).');
    return;
  }
  const check = checkOnionAddress(onion);
  if (!check.ok) add('error', 'onion address', `${onion} ${check.reason}. Fix: copy the address again from /var/lib/tor/tipline/hostname.`);
  else add('ok', 'onion address', `${check.host} (publish it together with the newsroom key fingerprint)`);
}

async function checkDiskSpace(root: string, warnBytes: number, errorBytes: number, add: Add): Promise<void> {
  const s = await statfs(root);
  const free = s.bavail * s.bsize;
  const shown = free >= GIB ? `${(free / GIB).toFixed(1)} GiB` : `${Math.floor(free / MIB)} MiB`;
  const fix = 'Fix: free space on that disk, lower --retention-days, or move the data directory to a bigger disk.';
  if (free < errorBytes) add('error', 'disk space', `only ${shown} free for the data directory: tips and attachments will soon fail to save. ${fix}`);
  else if (free < warnBytes) add('warning', 'disk space', `only ${shown} free for the data directory. ${fix}`);
  else add('ok', 'disk space', `${shown} free`);
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
