/**
 * What `tipline admin doctor` makes of a PostgreSQL server's settings, as a
 * pure function of them (read from `pg_settings` by doctor.ts), so every
 * judgement can be tested, including those only the server's own
 * configuration can change (`track_commit_timestamp`, `archive_mode`).
 *
 * SQLite stores tips with random ids in WITHOUT ROWID tables and only their
 * day. PostgreSQL keeps more on its own, and these settings decide how much:
 * - `track_commit_timestamp = on` keeps every transaction's commit time,
 *   readable for any row with `pg_xact_commit_timestamp(xmin)`: each tip's
 *   exact time of arrival (an error);
 * - `log_statement` other than `none`, or `log_min_duration_statement` ≥ 0,
 *   writes statements to the server log with the time they ran (and, for
 *   inserts, their parameters);
 * - `archive_mode` keeps WAL segments, which carry each commit's time next to
 *   the rows it inserted, for as long as the archive is kept;
 * - `fsync` or `synchronous_commit` off can lose a tip that got a receipt.
 *
 * @example
 * judgePostgresSettings({ fsync: 'on', synchronous_commit: 'on', track_commit_timestamp: 'on' });
 * // [{ level: 'error', topic: 'database', message: 'PostgreSQL keeps the commit time …' }, …]
 */
import type { Finding } from './finding.ts';

/** The `pg_settings` rows doctor reads (name → setting, as PostgreSQL prints it). */
export const JUDGED_POSTGRES_SETTINGS = ['fsync', 'synchronous_commit', 'track_commit_timestamp', 'archive_mode', 'log_statement', 'log_min_duration_statement'] as const;

export type PostgresSettings = Partial<Record<(typeof JUDGED_POSTGRES_SETTINGS)[number], string>>;

const RESET_HINT = 'and remove any per-database or per-role value (ALTER DATABASE … RESET …, ALTER ROLE … RESET …)';

export function judgePostgresSettings(s: PostgresSettings): Finding[] {
  const findings: Finding[] = [];
  const add = (level: Finding['level'], message: string) => findings.push({ level, topic: 'database', message });

  if (s.fsync !== 'on' || s.synchronous_commit === 'off') {
    add('error', `PostgreSQL runs with fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}: a tip that got a receipt can be lost in a crash or power cut. Fix: set fsync = on and synchronous_commit = on in postgresql.conf (or for the role: ALTER ROLE … SET synchronous_commit = on), then reload PostgreSQL.`);
  }
  let quiet = true;
  if (s.track_commit_timestamp === 'on') {
    quiet = false;
    add('error', 'PostgreSQL keeps the commit time of every transaction (track_commit_timestamp = on): anyone who has the database can read the exact time each tip arrived (pg_xact_commit_timestamp). Fix: ALTER SYSTEM SET track_commit_timestamp = off (or remove it from postgresql.conf), then restart PostgreSQL (a reload is not enough).');
  }
  if (s.log_statement !== undefined && s.log_statement !== 'none') {
    quiet = false;
    add('warning', `PostgreSQL writes statements to its log (log_statement = ${s.log_statement}), each with the time it ran: the log then tells when tips arrived (and, for inserts, holds their values). Fix: ALTER SYSTEM SET log_statement = 'none'; SELECT pg_reload_conf(); ${RESET_HINT}, and delete the old log files.`);
  }
  if (s.log_min_duration_statement !== undefined && Number(s.log_min_duration_statement) >= 0) {
    quiet = false;
    add('warning', `PostgreSQL logs every statement that takes ${s.log_min_duration_statement} ms or more (log_min_duration_statement = ${s.log_min_duration_statement}), each with the time it ran: the log then tells when tips arrived. Fix: ALTER SYSTEM SET log_min_duration_statement = -1; SELECT pg_reload_conf(); ${RESET_HINT}, and delete the old log files.`);
  }
  if (s.archive_mode !== undefined && s.archive_mode !== 'off') {
    quiet = false;
    add('warning', `PostgreSQL archives its WAL (archive_mode = ${s.archive_mode}): every archived segment keeps the tips inserted in it with each commit's time, and deleted tips, for as long as the archive is kept. Fix: without a need for point-in-time recovery, set archive_mode = off and restart PostgreSQL; else keep the archive no longer than the retention period, on an encrypted disk.`);
  }
  if (quiet) add('ok', 'PostgreSQL keeps no commit timestamps of its own (track_commit_timestamp = off), logs no statements and archives no WAL');
  return findings;
}
