/**
 * How every admin action reaches a newsroom: open its data directory's
 * database, check that the signing key (when one is given) is this newsroom's,
 * and hand both over. Apart from newsroom.ts (journalists, desks) and
 * manifests.ts (publishing), which both act through it.
 *
 * @module
 * @example
 * await withNewsroom({ dataDir: 'data', signingKeyFile: 'signing.key' }, async (db, secretKey) => { … });
 */
import { hex } from '../../crypto/bytes.ts';
import { readDataDir } from '../data-dir.ts';
import { openDatabase, type TiplineDb } from '../db/open-database.ts';
import { readSigningKeyFile } from '../signing-key-file.ts';

/** An admin command's refusal: its message is shown as it is, with a non-zero exit. */
export class AdminError extends Error {
  override name = 'AdminError';
}

/** `databaseUrl`: PostgreSQL instead of the folder's SQLite file (else `DATABASE_URL`, see data-dir.ts). */
export type NewsroomAccess = { dataDir: string; signingKeyFile?: string | undefined; databaseUrl?: string | undefined };

/**
 * Opens a data directory's database for an admin action, checks that the
 * signing key (if given) is this newsroom's, and hands both to `action`.
 */
export async function withNewsroom<T>(o: NewsroomAccess, action: (db: TiplineDb, secretKey: Uint8Array | undefined) => Promise<T>): Promise<T> {
  const dir = await readDataDir(o.dataDir, o);
  let secretKey: Uint8Array | undefined;
  if (o.signingKeyFile) {
    const key = await readSigningKeyFile(o.signingKeyFile);
    if (hex.encode(key.publicKey) !== dir.config.newsroomPublicKey) {
      key.secretKey.fill(0);
      throw new AdminError(`${o.signingKeyFile} is not the signing key of the newsroom in ${o.dataDir}`);
    }
    secretKey = key.secretKey;
  }
  const db = await openDatabase(dir.database);
  try {
    return await action(db, secretKey);
  } finally {
    secretKey?.fill(0);
    await db.destroy();
  }
}

