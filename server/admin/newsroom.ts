/**
 * Admin operations on a data directory: set up a newsroom, add and remove
 * journalists, and publish the signed manifest after every change. The CLI in
 * `server/cli/admin.ts` is a thin layer over these.
 *
 * @example
 * const { fingerprint } = await initNewsroom({ dataDir: 'data', signingKeyFile: 'newsroom.key' });
 * const { token } = await addJournalist({ dataDir: 'data', signingKeyFile: 'newsroom.key', name: 'Ana', armoredKey });
 */
import { hex } from '../../crypto/bytes.ts';
import { addDays, utcDay } from '../../crypto/day.ts';
import { checkJournalistKey } from '../../crypto/envelope.ts';
import { DEFAULT_MANIFEST_DAYS, MANIFEST_FORMAT, newsroomPublicKeyOf, signManifest, type SignedManifest } from '../../crypto/manifest.ts';
import { DataDirError, dataDirPaths, exists, initDataDir, readDataDir } from '../data-dir.ts';
import { openDatabase, type TiplineDb } from '../db/open-database.ts';
import { createSigningKeyFile, readSigningKeyFile } from '../signing-key-file.ts';
import { AuditLog } from '../store/audit-log.ts';
import { JournalistStore, type Journalist } from '../store/journalist-store.ts';
import { ManifestStore } from '../store/manifest-store.ts';

export class AdminError extends Error {
  override name = 'AdminError';
}

export async function initNewsroom(o: { dataDir: string; signingKeyFile: string }): Promise<{ fingerprint: string }> {
  if (await exists(dataDirPaths(o.dataDir).configFile)) {
    throw new AdminError(`${o.dataDir} is already initialised; refusing to overwrite it`);
  }
  if (await exists(o.signingKeyFile)) {
    throw new AdminError(`${o.signingKeyFile} already exists; refusing to overwrite a signing key`);
  }
  const { publicKey, fingerprint } = await createSigningKeyFile(o.signingKeyFile);
  const paths = await initDataDir(o.dataDir, { newsroomPublicKey: hex.encode(publicKey) });
  const db = await openDatabase(paths.dbFile);
  try {
    await new AuditLog(db).record('admin', 'newsroom.init', `fingerprint=${fingerprint}`);
  } finally {
    await db.destroy();
  }
  return { fingerprint };
}

/** Opens a data directory's database for an admin action, and checks the signing key belongs to it. */
async function withNewsroom<T>(
  o: { dataDir: string; signingKeyFile?: string },
  action: (db: TiplineDb, secretKey: Uint8Array | undefined) => Promise<T>,
): Promise<T> {
  const dir = await readDataDir(o.dataDir);
  let secretKey: Uint8Array | undefined;
  if (o.signingKeyFile) {
    const key = await readSigningKeyFile(o.signingKeyFile);
    if (hex.encode(key.publicKey) !== dir.config.newsroomPublicKey) {
      key.secretKey.fill(0);
      throw new AdminError(`${o.signingKeyFile} is not the signing key of the newsroom in ${o.dataDir}`);
    }
    secretKey = key.secretKey;
  }
  const db = await openDatabase(dir.dbFile);
  try {
    return await action(db, secretKey);
  } finally {
    secretKey?.fill(0);
    await db.destroy();
  }
}

/** Builds, signs and stores the next manifest from the current journalists. */
export async function publishManifest(db: TiplineDb, secretKey: Uint8Array, options: { days?: number; today?: string } = {}): Promise<SignedManifest> {
  const manifests = new ManifestStore(db);
  const journalists = await new JournalistStore(db).list();
  const today = options.today ?? utcDay();
  const signed = signManifest(
    {
      format: MANIFEST_FORMAT,
      version: (await manifests.latestVersion()) + 1,
      issued: today,
      expires: addDays(today, options.days ?? DEFAULT_MANIFEST_DAYS),
      newsroomKey: hex.encode(newsroomPublicKeyOf(secretKey)),
      recipients: journalists.map((j) => ({ id: j.id, name: j.name, fingerprint: j.fingerprint, publicKey: j.publicKey })),
    },
    secretKey,
  );
  await manifests.save(signed);
  return signed;
}

export type AddJournalistResult = { journalist: Journalist; token: string; manifestVersion: number };

export async function addJournalist(o: { dataDir: string; signingKeyFile: string; name: string; armoredKey: string }): Promise<AddJournalistResult> {
  const name = o.name.trim();
  if (name.length === 0 || name.length > 200) throw new AdminError('--name must be 1 to 200 characters');
  const checked = await checkJournalistKey(o.armoredKey);
  return withNewsroom(o, async (db, secretKey) => {
    const store = new JournalistStore(db);
    if (await store.findByName(name)) throw new AdminError(`a journalist named "${name}" already exists; use replace to change their key`);
    // One transaction: the journalist, their token and the new manifest land together or not at all.
    return db.transaction().execute(async (trx) => {
      const txStore = new JournalistStore(trx);
      const journalist = await txStore.add({ name, fingerprint: checked.fingerprint, publicKey: checked.armored });
      const token = await txStore.issueToken(journalist.id);
      const signed = await publishManifest(trx, secretKey!);
      await new AuditLog(trx).record('admin', 'journalist.add', `name=${name} fingerprint=${checked.fingerprint} manifest=${signed.manifest.version}`);
      return { journalist, token, manifestVersion: signed.manifest.version };
    });
  });
}

export async function removeJournalist(o: { dataDir: string; signingKeyFile: string; name: string }): Promise<{ manifestVersion: number }> {
  return withNewsroom(o, async (db, secretKey) => {
    const journalist = await new JournalistStore(db).findByName(o.name);
    if (!journalist) throw new AdminError(`no journalist named "${o.name}"`);
    return db.transaction().execute(async (trx) => {
      await new JournalistStore(trx).remove(journalist.id);
      const signed = await publishManifest(trx, secretKey!);
      await new AuditLog(trx).record('admin', 'journalist.remove', `name=${o.name} manifest=${signed.manifest.version}`);
      return { manifestVersion: signed.manifest.version };
    });
  });
}

export async function listJournalists(o: { dataDir: string }): Promise<Journalist[]> {
  return withNewsroom(o, (db) => new JournalistStore(db).list());
}

export { DataDirError };
