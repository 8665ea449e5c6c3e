/** The database's tables as Kysely types: the schema lives here, not in strings. */
import type { Generated } from 'kysely';

export type Via = 'browser' | 'server';

export interface TipsTable {
  id: string;
  /** YYYY-MM-DD (UTC). Never a time of day. */
  received_day: string;
  size_bucket: number;
  manifest_version: number;
  via: Via;
  ciphertext: Uint8Array;
  /** `ciphertext`'s length, kept beside it so the list of tips is read from its index alone. */
  ciphertext_bytes: number;
  thread_id: string | null;
  kind: TipKind;
  /** Position in its thread (1 = the first tip). */
  seq: number;
  /** The desk the source chose (manifest desk id). */
  desk: string | null;
}

export type TipKind = 'tip' | 'followup';

export interface ThreadsTable {
  /** SHA-256 of the source's lookup secret, hex. */
  id: string;
  created_day: string;
  next_seq: number;
  desk: string | null;
  /** UTC day an admin put the conversation on hold (`admin hold`); retention skips it. NULL = not held (migration 0014). */
  held_day: string | null;
}

export interface RepliesTable {
  id: string;
  thread_id: string;
  seq: number;
  created_day: string;
  box: Uint8Array;
  copy: Uint8Array;
}

export interface JournalistsTable {
  id: string;
  name: string;
  fingerprint: string;
  public_key: string;
  added_at: string;
  /** JSON list of desk names; empty = in every desk. */
  desks: string;
}

export interface JournalistTokensTable {
  id: string;
  journalist_id: string;
  /** SHA-256 of the token's secret part, hex. The token itself is shown once and never stored. */
  secret_hash: string;
  created_at: string;
  /** Which laptop or device the token is for, as the admin typed it (migration 0014); NULL for older tokens. */
  label: string | null;
}

export interface ManifestsTable {
  version: number;
  /** The signed manifest, as JSON: { manifest, signature }. */
  body: string;
  created_at: string;
}

export interface AuditLogTable {
  id: string;
  at: string;
  actor: string;
  action: string;
  detail: string;
}

export interface ServerSecretsTable {
  name: string;
  value: Uint8Array;
}

export interface SpentChallengesTable {
  id: string;
  /** UTC day (YYYY-MM-DD) the challenge expires on; the row is swept once that day is over (migration 0011). */
  day: string;
}

/** Posts a no-JavaScript budget refused, per UTC day and budget (migration 0015, server/abuse/no-js-refusals.ts). */
export interface NoJsRefusalsTable {
  day: string;
  /** `tip` (first tips) or `followup`. */
  kind: string;
  refused: number;
}

export interface SpentFormTokensTable {
  id: string;
  /** UTC day (YYYY-MM-DD) the token was spent; swept once the next day is over (migration 0016). */
  day: string;
}

export interface UploadsTable {
  id: string;
  desk: string | null;
  /** What the client said the ciphertext would weigh: the running count may not pass it. */
  declared_bytes: number;
  received_bytes: number;
  /** 1 once checked as a whole OpenPGP message to the desk's keys. */
  complete: number;
  /** The tip that claimed it, once it arrived. */
  tip_id: string | null;
  /** Hourly sweeps survived while unclaimed (0 once claimed); deleted at the limit (migration 0013). */
  sweeps: Generated<number>;
  /** Times `/complete` checked it. */
  checks: Generated<number>;
  /** Once a check refused it (1 not encrypted, 2 wrong recipients): never checked again. */
  check_failed: Generated<number>;
}

/** One random token per shared periodic job, swapped by compare-and-set when it runs (migration 0013). */
export interface SweepTicksTable {
  name: string;
  token: string;
}

/** Attachment ciphertext in rows (migration 0006 on PostgreSQL, 0008 on SQLite), see server/uploads/row-blob-store.ts. */
export interface BlobsTable {
  id: string;
  /** The key of the chunks that are this blob's bytes now. */
  content: string;
  written_day: string;
}

export interface BlobChunksTable {
  /**
   * SQLite only (migration 0017): a random 64-bit rowid, `random()` on every
   * insert, so `VACUUM` lays rows out in no arrival order. PostgreSQL has no
   * such column.
   */
  id?: number;
  content: string;
  /** The byte of the blob this row starts at. */
  start: number;
  bytes: Uint8Array;
}

export interface BlobStagingTable {
  content: string;
  started_day: string;
}

export interface Database {
  tips: TipsTable;
  journalists: JournalistsTable;
  journalist_tokens: JournalistTokensTable;
  manifests: ManifestsTable;
  audit_log: AuditLogTable;
  threads: ThreadsTable;
  replies: RepliesTable;
  server_secrets: ServerSecretsTable;
  spent_challenges: SpentChallengesTable;
  no_js_refusals: NoJsRefusalsTable;
  spent_form_tokens: SpentFormTokensTable;
  uploads: UploadsTable;
  sweep_ticks: SweepTicksTable;
  blobs: BlobsTable;
  blob_chunks: BlobChunksTable;
  blob_staging: BlobStagingTable;
}

export type { Generated };
