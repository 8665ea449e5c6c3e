/**
 * The admin audit log: what an admin did and on which day (no time of day: see migration 0009).
 * Never anything about sources or tips beyond counts.
 *
 * @example
 * await new AuditLog(db).record('admin', 'journalist.add', 'name=Ana fingerprint=ab12…');
 */
import { utcDay } from '../../crypto/day.ts';
import { randomId } from '../../crypto/bytes.ts';
import type { TiplineDb } from '../db/open-database.ts';

export type AuditEntry = { at: string; actor: string; action: string; detail: string };

export class AuditLog {
  constructor(private readonly db: TiplineDb) {}

  async record(actor: string, action: string, detail: string): Promise<void> {
    await this.db.insertInto('audit_log').values({ id: randomId(), at: utcDay(), actor, action, detail }).execute();
  }

  async list(): Promise<AuditEntry[]> {
    return this.db.selectFrom('audit_log').select(['at', 'actor', 'action', 'detail']).orderBy('at').execute();
  }
}
