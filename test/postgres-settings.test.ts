/**
 * What `tipline admin doctor` makes of PostgreSQL's settings
 * (server/admin/postgres-settings.ts), fed the settings directly: the ones a
 * test cluster can't change per database (track_commit_timestamp,
 * archive_mode, fsync) are judged here; test/postgres-instances.test.ts runs
 * doctor on a real server.
 */
import { describe, expect, it } from 'vitest';
import { judgePostgresSettings, type PostgresSettings } from '../server/admin/postgres-settings.ts';

/** PostgreSQL's defaults, which doctor must find clean. */
const DEFAULTS: PostgresSettings = { fsync: 'on', synchronous_commit: 'on', track_commit_timestamp: 'off', archive_mode: 'off', log_statement: 'none', log_min_duration_statement: '-1' };

const judged = (changes: PostgresSettings) => judgePostgresSettings({ ...DEFAULTS, ...changes });
const levels = (changes: PostgresSettings) => judged(changes).map((f) => f.level);

describe('judging PostgreSQL settings', () => {
  it('finds PostgreSQL\'s defaults clean', () => {
    expect(judged({})).toEqual([{ level: 'ok', topic: 'database', message: expect.stringMatching(/no commit timestamps .* no statements .* no WAL/) }]);
  });

  it('calls commit timestamps an error: they give every tip\'s exact time of arrival', () => {
    const [finding, ...rest] = judged({ track_commit_timestamp: 'on' });
    expect(rest).toEqual([]);
    expect(finding!.level).toBe('error');
    expect(finding!.message).toMatch(/track_commit_timestamp = on.*exact time each tip arrived.*Fix: ALTER SYSTEM SET track_commit_timestamp = off.*restart/);
  });

  it('warns about WAL archiving, in either mode', () => {
    for (const mode of ['on', 'always']) {
      const [finding, ...rest] = judged({ archive_mode: mode });
      expect(rest).toEqual([]);
      expect(finding!.level).toBe('warning');
      expect(finding!.message).toMatch(new RegExp(`archive_mode = ${mode}.*commit's time.*Fix: .*archive_mode = off`));
    }
  });

  it('warns about statement logging of every kind, and a duration threshold of 0 ms or more', () => {
    for (const kind of ['ddl', 'mod', 'all']) {
      expect(levels({ log_statement: kind })).toEqual(['warning']);
      expect(judged({ log_statement: kind })[0]!.message).toMatch(new RegExp(`log_statement = ${kind}.*Fix: ALTER SYSTEM SET log_statement = 'none'`));
    }
    for (const ms of ['0', '250']) {
      expect(levels({ log_min_duration_statement: ms })).toEqual(['warning']);
      expect(judged({ log_min_duration_statement: ms })[0]!.message).toMatch(/Fix: ALTER SYSTEM SET log_min_duration_statement = -1/);
    }
  });

  it('calls fsync or synchronous_commit off an error, and reports every problem at once', () => {
    expect(levels({ fsync: 'off' })).toEqual(['error', 'ok']);
    expect(levels({ synchronous_commit: 'off' })).toEqual(['error', 'ok']);
    expect(levels({ synchronous_commit: 'local' })).toEqual(['ok']);
    const all = judged({ fsync: 'off', track_commit_timestamp: 'on', log_statement: 'all', log_min_duration_statement: '0', archive_mode: 'on' });
    expect(all.map((f) => f.message.match(/\(?(\w+) ?= ?\w+/)![1])).toEqual(['fsync', 'track_commit_timestamp', 'log_statement', 'log_min_duration_statement', 'archive_mode']);
    expect(all.map((f) => f.level)).toEqual(['error', 'error', 'warning', 'warning', 'warning']);
  });
});
