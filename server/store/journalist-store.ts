/**
 * Journalists and their API tokens.
 *
 * A token is `tl_<id>_<secret>`: the id finds the row, and the secret (256 bits)
 * is checked against its stored SHA-256 in constant time. The server never
 * stores a token, only that hash, and shows each token once.
 *
 * @example
 * const journalists = new JournalistStore(db);
 * const j = await journalists.add({ name: 'Ana', fingerprint, publicKey });
 * const token = await journalists.issueToken(j.id); // print once
 * await journalists.authenticate(token); // → the journalist, or undefined
 */
import { utcDay } from '../../crypto/day.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { base64url, randomBytes, randomId } from '../../crypto/bytes.ts';
import { isUniqueViolation } from '../db/dialect.ts';
import type { TiplineDb } from '../db/open-database.ts';

export type Journalist = {
  id: string;
  name: string;
  fingerprint: string;
  publicKey: string;
  addedAt: string;
  /** Desk names; empty = in every desk. */
  desks: string[];
};
/** A token as admins see it: never its secret. `label` says which laptop it is for (absent for tokens issued before labels). */
export type TokenInfo = { id: string; createdAt: string; label?: string };
/** A sign-in's outcome: the journalist, or on failure the token id when it is a real token's (for the auth throttle). */
export type SignIn = { journalist: Journalist; knownTokenId?: undefined } | { journalist: undefined; knownTokenId: string | undefined };

/** Names are unique: two admins adding the same name at once get this for the second. */
export class JournalistExistsError extends Error {
  override name = 'JournalistExistsError';
}

const TOKEN_RE = /^tl_([A-Za-z0-9_-]{22})_([A-Za-z0-9_-]{43})$/;

export class JournalistStore {
  constructor(private readonly db: TiplineDb) {}

  async add(j: { name: string; fingerprint: string; publicKey: string; desks?: string[] }): Promise<Journalist> {
    const row = {
      id: randomId(),
      name: j.name,
      fingerprint: j.fingerprint,
      public_key: j.publicKey,
      added_at: utcDay(), // a day only: see migration 0009
      desks: JSON.stringify(j.desks ?? []),
    };
    try {
      await this.db.insertInto('journalists').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new JournalistExistsError(`a journalist named "${j.name}" already exists; use replace to change their key`);
      throw e;
    }
    return toJournalist(row);
  }

  async list(): Promise<Journalist[]> {
    const rows = await this.db.selectFrom('journalists').selectAll().orderBy('name').execute();
    return rows.map(toJournalist);
  }

  async findByName(name: string): Promise<Journalist | undefined> {
    const row = await this.db.selectFrom('journalists').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toJournalist(row);
  }

  /** Replaces a journalist's OpenPGP key (same checks as adding); their tokens keep working. */
  async replaceKey(id: string, key: { fingerprint: string; publicKey: string }): Promise<void> {
    await this.db.updateTable('journalists').set({ fingerprint: key.fingerprint, public_key: key.publicKey }).where('id', '=', id).execute();
  }

  async setDesks(id: string, desks: string[]): Promise<void> {
    await this.db.updateTable('journalists').set({ desks: JSON.stringify(desks) }).where('id', '=', id).execute();
  }

  async tokens(journalistId: string): Promise<TokenInfo[]> {
    const rows = await this.db.selectFrom('journalist_tokens').select(['id', 'created_at', 'label']).where('journalist_id', '=', journalistId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, ...(r.label === null ? {} : { label: r.label }) }));
  }

  /** Revokes one token by its id (the part after `tl_`). Takes effect on the next request. */
  async revokeToken(journalistId: string, tokenId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('journalist_tokens').where('id', '=', tokenId).where('journalist_id', '=', journalistId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Removes a journalist and, through the foreign key, every token they had. */
  async remove(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('journalists').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Creates a token for the journalist and returns it. It is not stored and can't be shown again.
   * `label` (which laptop) must already be checked (server/admin/token-label.ts).
   */
  async issueToken(journalistId: string, label?: string): Promise<string> {
    const id = randomId();
    const secret = base64url.encode(randomBytes(32));
    await this.db
      .insertInto('journalist_tokens')
      .values({ id, journalist_id: journalistId, secret_hash: sha256Hex(secret), created_at: utcDay(), label: label ?? null })
      .execute();
    return `tl_${id}_${secret}`;
  }

  /** Returns the journalist a token belongs to, or undefined. Same work whether the id exists or not. */
  async authenticate(token: string): Promise<Journalist | undefined> {
    return (await this.signIn(token)).journalist;
  }

  /**
   * {@link authenticate}, and on failure whether the token's id belongs to an
   * existing token (`knownTokenId`), which the auth throttle counts. The same
   * work is done on every path (one lookup, one hash, one compare).
   */
  async signIn(token: string): Promise<SignIn> {
    const m = TOKEN_RE.exec(token);
    const presented = Buffer.from(sha256Hex(m ? m[2]! : token), 'hex');
    const row = m
      ? await this.db
          .selectFrom('journalist_tokens')
          .innerJoin('journalists', 'journalists.id', 'journalist_tokens.journalist_id')
          .selectAll('journalists')
          .select('journalist_tokens.secret_hash')
          .where('journalist_tokens.id', '=', m[1]!)
          .executeTakeFirst()
      : undefined;
    // Compare against a dummy hash when there's no row, so both paths do the same work.
    const stored = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    const equal = timingSafeEqual(presented, stored);
    if (row && equal && m) return { journalist: toJournalist(row) };
    return { journalist: undefined, knownTokenId: row && m ? m[1]! : undefined };
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function toJournalist(row: { id: string; name: string; fingerprint: string; public_key: string; added_at: string; desks: string }): Journalist {
  return { id: row.id, name: row.name, fingerprint: row.fingerprint, publicKey: row.public_key, addedAt: row.added_at, desks: JSON.parse(row.desks) as string[] };
}
