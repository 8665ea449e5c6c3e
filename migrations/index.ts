/**
 * Every migration, in order. Listed statically (not read from disk) so they
 * survive bundling into the single `tipline` executable.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.ts';
import * as m0002 from './0002-conversations.ts';
import * as m0003 from './0003-abuse.ts';
import * as m0004 from './0004-desks.ts';
import * as m0005 from './0005-uploads.ts';
import * as m0006 from './0006-blob-chunks.ts';
import * as m0007 from './0007-tip-list-index.ts';
import * as m0008 from './0008-blob-rows-sqlite.ts';
import * as m0009 from './0009-admin-times-as-days.ts';
import * as m0011 from './0011-spent-challenge-days.ts';
import * as m0012 from './0012-pow-key-rotation.ts';
import * as m0013 from './0013-upload-admission.ts';
import * as m0014 from './0014-token-labels-and-holds.ts';
import * as m0015 from './0015-no-js-refusals.ts';
import * as m0016 from './0016-spent-form-tokens.ts';
import * as m0017 from './0017-blob-rows-by-rowid.ts';

export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-conversations': m0002,
  '0003-abuse': m0003,
  '0004-desks': m0004,
  '0005-uploads': m0005,
  '0006-blob-chunks': m0006,
  '0007-tip-list-index': m0007,
  '0008-blob-rows-sqlite': m0008,
  '0009-admin-times-as-days': m0009,
  '0011-spent-challenge-days': m0011,
  '0012-pow-key-rotation': m0012,
  '0013-upload-admission': m0013,
  '0014-token-labels-and-holds': m0014,
  '0015-no-js-refusals': m0015,
  '0016-spent-form-tokens': m0016,
  '0017-blob-rows-by-rowid': m0017,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
