/**
 * Signed manifests, by version. The newest is what sources encrypt to.
 *
 * @example
 * const manifests = new ManifestStore(db);
 * await manifests.save(signManifest(next, secretKey));
 * const current = await manifests.latest();
 */
import { utcDay } from '../../crypto/day.ts';
import type { SignedManifest } from '../../crypto/manifest.ts';
import { isUniqueViolation } from '../db/dialect.ts';
import type { TiplineDb } from '../db/open-database.ts';

export class ManifestStore {
  constructor(private readonly db: TiplineDb) {}

  async latest(): Promise<SignedManifest | undefined> {
    const row = await this.db.selectFrom('manifests').select('body').orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row ? (JSON.parse(row.body) as SignedManifest) : undefined;
  }

  async latestVersion(): Promise<number> {
    const row = await this.db.selectFrom('manifests').select('version').orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row?.version ?? 0;
  }

  /** Saves a signed manifest; its version must be higher than every stored one. */
  async save(signed: SignedManifest): Promise<void> {
    const current = await this.latestVersion();
    if (signed.manifest.version <= current) {
      throw new RangeError(`manifest version ${signed.manifest.version} is not newer than ${current}`);
    }
    try {
      await this.db
        .insertInto('manifests')
        .values({ version: signed.manifest.version, body: JSON.stringify(signed), created_at: utcDay() })
        .execute();
    } catch (e) {
      // Another admin (or instance) saved this version between the look above and this insert.
      if (isUniqueViolation(e)) throw new RangeError(`manifest version ${signed.manifest.version} is not newer than the stored one`);
      throw e;
    }
  }
}
