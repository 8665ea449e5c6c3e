/**
 * Server settings: where to listen, limits, and the optional onion address.
 * Read from flags first, then environment variables, then defaults (DESIGN.md's
 * `--data`/`TIPLINE_DATA`, `--port`/`PORT`, `--host`/`HOST` contract).
 */
export type Limits = {
  /** Largest tip ciphertext accepted, in bytes. */
  maxTipBytes: number;
  /** Longest message, in characters (both the browser and the no-JavaScript form). */
  maxMessageChars: number;
  /** Largest page the journalist API returns. */
  maxPageSize: number;
  /** Ciphertext bytes one `POST /api/v1/journalist/tips/ciphertexts` answers with (unless it asks for one tip). */
  maxTipsBatchBytes: number;
  /** Follow-ups one conversation may send per day. */
  maxFollowupsPerThreadPerDay: number;
  /** No-JavaScript submissions (which can't do a proof of work): a global bucket of this size… */
  noJsBurst: number;
  /** …refilled at this many per minute. These are for first tips (`POST /submit`); … */
  noJsPerMinute: number;
  /** …follow-ups without JavaScript (`POST /inbox/reply`) have a bucket of their own, this size… */
  noJsFollowupBurst: number;
  /** …refilled at this many per minute. */
  noJsFollowupsPerMinute: number;
  /**
   * A no-JavaScript post's form token (server/abuse/form-tokens.ts) is refused
   * younger than this, in seconds: a person takes longer to write a tip, and a
   * script must load the form and wait. 0 (tests only) turns the wait off; the
   * token is still required.
   */
  noJsFormMinSeconds: number;
  /** …and older than this (at most a day): the form page then has to be loaded again. */
  noJsFormMaxSeconds: number;
  /** Attachments: largest file (ciphertext), total per tip, files per tip, largest upload chunk. */
  maxFileBytes: number;
  maxAttachmentBytesPerTip: number;
  maxFilesPerTip: number;
  maxChunkBytes: number;
  /** Uploads no tip claimed are deleted after this long, at the latest (by the day their blob was last written). */
  unclaimedUploadMs: number;
  /** …and, while `serve` runs, after this many hourly sweeps (server/uploads/upload-store.ts expireUnclaimed). */
  unclaimedUploadHours: number;
  /** Declared bytes of all uploads no tip has claimed yet (server/uploads/upload-quota.ts). */
  maxUnclaimedUploadBytes: number;
  /** Declared bytes of uploads opened per clock hour, per instance. */
  maxUploadBytesPerHour: number;
  /** Free bytes the data folder's disk keeps once every open upload is full; below, uploads get 503 storage-full (SQLite only). */
  minFreeBytes: number;
  /** Codename logins one conversation may make per hour (a burst of this many, then one every 60/n minutes). */
  maxLoginsPerThreadPerHour: number;
};

/**
 * Room for OpenPGP framing on top of a file's own size, per attachment. The
 * limits above count ciphertext; a file of `maxFileBytes - ATTACHMENT_FRAMING_BYTES`
 * always fits (measured: about 150 bytes plus one key packet per journalist).
 */
export const ATTACHMENT_FRAMING_BYTES = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = {
  maxTipBytes: 2 * 1024 * 1024,
  maxMessageChars: 100_000,
  maxPageSize: 500,
  maxTipsBatchBytes: 4 * 1024 * 1024,
  maxFollowupsPerThreadPerDay: 20,
  noJsBurst: 30,
  noJsPerMinute: 2,
  noJsFollowupBurst: 30,
  noJsFollowupsPerMinute: 2,
  noJsFormMinSeconds: 3,
  noJsFormMaxSeconds: 2 * 60 * 60,
  // 2 GiB of file plus room for OpenPGP framing (about 0.01 %).
  maxFileBytes: 2 * 1024 ** 3 + ATTACHMENT_FRAMING_BYTES,
  maxAttachmentBytesPerTip: 5 * 1024 ** 3,
  maxFilesPerTip: 20,
  maxChunkBytes: 16 * 1024 * 1024,
  unclaimedUploadMs: 24 * 60 * 60 * 1000,
  unclaimedUploadHours: 6,
  // Eight of the largest files at once, four an hour; sources' tips without files are never held back by these.
  maxUnclaimedUploadBytes: 16 * 1024 ** 3,
  maxUploadBytesPerHour: 8 * 1024 ** 3,
  minFreeBytes: 2 * 1024 ** 3,
  maxLoginsPerThreadPerHour: 10,
};

export type ServeSettings = {
  dataDir: string;
  /** PostgreSQL instead of `<data>/tipline.db` (README: "PostgreSQL (more than one instance)"). */
  databaseUrl?: string | undefined;
  port: number;
  host: string;
  onion?: string | undefined;
  /** Days to keep tips, follow-ups and replies; 0 keeps them forever. */
  retentionDays: number;
  /** Base proof-of-work difficulty in bits (16 ≈ 0.6 s median in Chromium on a 2-core VM; a laptop browser is near 1 s); 0 turns it off. */
  powDifficulty: number;
  /** The limits set by flag or environment (the no-JavaScript budgets and wait); the rest are DEFAULT_LIMITS. */
  limits: Partial<Limits>;
};

/** The no-JavaScript limits an operator can set: flag, environment variable, limit, and largest value. */
export const NO_JS_SETTINGS = [
  ['no-js-burst', 'TIPLINE_NO_JS_BURST', 'noJsBurst', 100_000],
  ['no-js-per-minute', 'TIPLINE_NO_JS_PER_MINUTE', 'noJsPerMinute', 100_000],
  ['no-js-followup-burst', 'TIPLINE_NO_JS_FOLLOWUP_BURST', 'noJsFollowupBurst', 100_000],
  ['no-js-followups-per-minute', 'TIPLINE_NO_JS_FOLLOWUPS_PER_MINUTE', 'noJsFollowupsPerMinute', 100_000],
  // Far below the token's life (two hours), so a source who waited can always send.
  ['no-js-form-wait', 'TIPLINE_NO_JS_FORM_WAIT', 'noJsFormMinSeconds', 600],
] as const;

type NoJsFlag = (typeof NO_JS_SETTINGS)[number][0];

export type ServeFlags = { data?: string; 'database-url'?: string; port?: string; host?: string; onion?: string; 'retention-days'?: string; 'pow-difficulty'?: string } & Partial<Record<NoJsFlag, string>>;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

export function serveSettings(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeSettings {
  const int = (value: string | undefined, fallback: number, name: string, max: number) => {
    const n = Number(value ?? fallback);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new SettingsError(`${name} must be a whole number from 0 to ${max}, got "${value}"`);
    return n;
  };
  return {
    dataDir: flags.data ?? env.TIPLINE_DATA ?? './data',
    databaseUrl: flags['database-url'] || env.DATABASE_URL || undefined,
    port: int(flags.port ?? env.PORT, 8080, '--port', 65535),
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    onion: flags.onion ?? env.TIPLINE_ONION ?? undefined,
    retentionDays: int(flags['retention-days'] ?? env.TIPLINE_RETENTION_DAYS, 90, '--retention-days', 36500),
    powDifficulty: int(flags['pow-difficulty'] ?? env.TIPLINE_POW_DIFFICULTY, 16, '--pow-difficulty', 24),
    limits: Object.fromEntries(
      NO_JS_SETTINGS.flatMap(([flag, variable, limit, max]) => {
        const value = flags[flag] ?? env[variable];
        return value === undefined ? [] : [[limit, int(value, 0, `--${flag}`, max)]];
      }),
    ),
  };
}
