/**
 * Admin operations on a data directory: set up a newsroom, manage journalists
 * and desks, and publish the signed manifest. The CLI in `server/cli/admin.ts`
 * is a thin layer over these.
 *
 * Publishing needs the newsroom signing key. With `signingKeyFile` a change is
 * signed and published at once (the shortcut for small setups); without it, the
 * change is recorded and the admin publishes later through the offline flow
 * (`manifests.ts`: export, sign elsewhere, import).
 *
 * @example
 * const { fingerprint } = await initNewsroom({ dataDir: 'data', signingKeyFile: 'newsroom.key' });
 * const { token } = await addJournalist({ dataDir: 'data', signingKeyFile: 'newsroom.key', name: 'Ana', armoredKey });
 */
import { hex } from '../../crypto/bytes.ts';
import { checkJournalistKey } from '../../crypto/envelope.ts';
import { databaseLocation, dataDirPaths, exists, initDataDir, readDataDir, storageOf } from '../data-dir.ts';
import { isPostgresUrl } from '../db/postgres.ts';
import { openDatabase, type TiplineDb } from '../db/open-database.ts';
import { createSigningKeyFile, readSigningKeyFile } from '../signing-key-file.ts';
import { AuditLog } from '../store/audit-log.ts';
import { JournalistStore, type Journalist, type TokenInfo } from '../store/journalist-store.ts';
import { publishManifest } from './manifests.ts';
import { checkTokenLabel } from './token-label.ts';
import { AdminError, withNewsroom, type NewsroomAccess } from './newsroom-access.ts';

export { publishManifest } from './manifests.ts';
export { AdminError, withNewsroom, type NewsroomAccess } from './newsroom-access.ts';

export async function initNewsroom(o: { dataDir: string; signingKeyFile: string; databaseUrl?: string | undefined }): Promise<{ fingerprint: string }> {
  if (await exists(dataDirPaths(o.dataDir).configFile)) {
    throw new AdminError(`${o.dataDir} is already initialised; refusing to overwrite it`);
  }
  if (await exists(o.signingKeyFile)) {
    throw new AdminError(`${o.signingKeyFile} already exists; refusing to overwrite a signing key`);
  }
  const database = databaseLocation(o.dataDir, o.databaseUrl);
  if (isPostgresUrl(database)) await refuseSecondNewsroom(database, o.dataDir);
  const { publicKey, fingerprint } = await createSigningKeyFile(o.signingKeyFile);
  await initDataDir(o.dataDir, { newsroomPublicKey: hex.encode(publicKey), storage: storageOf(database) });
  const db = await openDatabase(database);
  try {
    await new AuditLog(db).record('admin', 'newsroom.init', `fingerprint=${fingerprint}`);
  } finally {
    await db.destroy();
  }
  return { fingerprint };
}

/**
 * A shared PostgreSQL database holds one newsroom. A second `init` on it would
 * make a second newsroom key whose manifests the first instances' pages refuse;
 * a further instance needs the first one's config.json instead.
 */
async function refuseSecondNewsroom(database: string, dataDir: string): Promise<void> {
  const db = await openDatabase(database);
  try {
    const inited = await db.selectFrom('audit_log').select('id').where('action', '=', 'newsroom.init').executeTakeFirst();
    if (inited) {
      throw new AdminError(
        `this database already holds a newsroom. For another instance, copy config.json from the first instance's data directory into ${dataDir} instead of running init again.`,
      );
    }
  } finally {
    await db.destroy();
  }
}

/** Signs and stores the next manifest when a signing key is at hand; returns its version, or null when left for the offline flow. */
async function publishIfSigning(db: TiplineDb, secretKey: Uint8Array | undefined): Promise<number | null> {
  if (!secretKey) return null;
  return (await publishManifest(db, secretKey)).manifest.version;
}

export type ChangeResult = { manifestVersion: number | null };

async function findJournalist(db: TiplineDb, name: string): Promise<Journalist> {
  const journalist = await new JournalistStore(db).findByName(name);
  if (!journalist) throw new AdminError(`no journalist named "${name}"; see: tipline admin journalist list`);
  return journalist;
}

function checkDesks(desks: string[]): string[] {
  const clean = [...new Set(desks.map((d) => d.trim()).filter(Boolean))];
  for (const d of clean) if (d.length > 100) throw new AdminError('a desk name is at most 100 characters');
  return clean;
}

export async function addJournalist(
  o: NewsroomAccess & { name: string; armoredKey: string; desks?: string[]; tokenLabel?: string | undefined },
): Promise<ChangeResult & { journalist: Journalist; token: string }> {
  const name = o.name.trim();
  if (name.length === 0 || name.length > 200) throw new AdminError('--name must be 1 to 200 characters');
  const desks = checkDesks(o.desks ?? []);
  const label = checkTokenLabel(o.tokenLabel);
  const checked = await checkJournalistKey(o.armoredKey);
  return withNewsroom(o, async (db, secretKey) => {
    if (await new JournalistStore(db).findByName(name)) throw new AdminError(`a journalist named "${name}" already exists; use replace to change their key`);
    // One transaction: the journalist, their token and the new manifest land together or not at all.
    return db.transaction().execute(async (trx) => {
      const store = new JournalistStore(trx);
      const journalist = await store.add({ name, fingerprint: checked.fingerprint, publicKey: checked.armored, desks });
      const token = await store.issueToken(journalist.id, label);
      const manifestVersion = await publishIfSigning(trx, secretKey);
      await new AuditLog(trx).record('admin', 'journalist.add', `name=${name} fingerprint=${checked.fingerprint} desks=${desks.join('|') || '*'}`);
      return { journalist, token, manifestVersion };
    });
  });
}

/** A journalist's new key (lost laptop, expiring key): same checks as `add`; tokens stay valid. */
export async function replaceJournalistKey(o: NewsroomAccess & { name: string; armoredKey: string }): Promise<ChangeResult & { fingerprint: string }> {
  const checked = await checkJournalistKey(o.armoredKey);
  return withNewsroom(o, async (db, secretKey) => {
    const journalist = await findJournalist(db, o.name);
    return db.transaction().execute(async (trx) => {
      await new JournalistStore(trx).replaceKey(journalist.id, { fingerprint: checked.fingerprint, publicKey: checked.armored });
      const manifestVersion = await publishIfSigning(trx, secretKey);
      await new AuditLog(trx).record('admin', 'journalist.replace', `name=${o.name} old=${journalist.fingerprint} new=${checked.fingerprint}`);
      return { manifestVersion, fingerprint: checked.fingerprint };
    });
  });
}

/** Removes a journalist: their tokens stop working at once; the next manifest drops their key. */
export async function removeJournalist(o: NewsroomAccess & { name: string }): Promise<ChangeResult> {
  return withNewsroom(o, async (db, secretKey) => {
    const journalist = await findJournalist(db, o.name);
    return db.transaction().execute(async (trx) => {
      await new JournalistStore(trx).remove(journalist.id);
      const manifestVersion = await publishIfSigning(trx, secretKey);
      await new AuditLog(trx).record('admin', 'journalist.remove', `name=${o.name} fingerprint=${journalist.fingerprint}`);
      return { manifestVersion };
    });
  });
}

export async function setJournalistDesks(o: NewsroomAccess & { name: string; desks: string[] }): Promise<ChangeResult> {
  const desks = checkDesks(o.desks);
  return withNewsroom(o, async (db, secretKey) => {
    const journalist = await findJournalist(db, o.name);
    return db.transaction().execute(async (trx) => {
      await new JournalistStore(trx).setDesks(journalist.id, desks);
      const manifestVersion = await publishIfSigning(trx, secretKey);
      await new AuditLog(trx).record('admin', 'journalist.desks', `name=${o.name} desks=${desks.join('|') || '*'}`);
      return { manifestVersion };
    });
  });
}

export async function listJournalists(o: { dataDir: string }): Promise<(Journalist & { tokens: TokenInfo[] })[]> {
  return withNewsroom(o, async (db) => {
    const store = new JournalistStore(db);
    return Promise.all((await store.list()).map(async (j) => ({ ...j, tokens: await store.tokens(j.id) })));
  });
}

/** Another token for a journalist (a second device, named by `label`); shown once. The label stays out of the audit log. */
export async function issueToken(o: { dataDir: string; name: string; label?: string | undefined }): Promise<string> {
  const label = checkTokenLabel(o.label);
  return withNewsroom(o, async (db) => {
    const journalist = await findJournalist(db, o.name);
    const token = await new JournalistStore(db).issueToken(journalist.id, label);
    await new AuditLog(db).record('admin', 'token.issue', `name=${o.name} token=${token.slice(3, 25)}`);
    return token;
  });
}

/** Revokes one token, by its id (the 22 characters after `tl_`, as `journalist list` shows). */
export async function revokeToken(o: { dataDir: string; name: string; tokenId: string }): Promise<void> {
  return withNewsroom(o, async (db) => {
    const journalist = await findJournalist(db, o.name);
    if (!(await new JournalistStore(db).revokeToken(journalist.id, o.tokenId))) {
      throw new AdminError(`${o.name} has no token with id ${o.tokenId}; see: tipline admin journalist list`);
    }
    await new AuditLog(db).record('admin', 'token.revoke', `name=${o.name} token=${o.tokenId}`);
  });
}

export async function auditLog(o: { dataDir: string }) {
  return withNewsroom(o, (db) => new AuditLog(db).list());
}
