/**
 * Day-only dates. The server records *which day* something happened, never the
 * time, so a seized database can't be lined up against network logs.
 *
 * @module
 * @example
 * import { utcDay, addDays } from './day.ts';
 * utcDay(new Date('2026-11-28T14:03:00Z')); // '2026-11-28'
 * addDays('2026-11-28', 90); // '2027-02-26'
 */

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC calendar day of `date`, as YYYY-MM-DD. */
export function utcDay(date: Date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** True when `text` is a real YYYY-MM-DD calendar day. */
export function isDay(text: unknown): text is string {
  if (typeof text !== 'string' || !DAY_RE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && utcDay(d) === text;
}

export function addDays(day: string, days: number): string {
  if (!isDay(day)) throw new RangeError(`not a YYYY-MM-DD day: ${String(day)}`);
  if (!Number.isInteger(days)) throw new RangeError('days must be an integer');
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return utcDay(d);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  if (!isDay(from) || !isDay(to)) throw new RangeError('days must be YYYY-MM-DD');
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Midnight UTC of `day`, as a Date: used where a library wants a timestamp but we only allow a day. */
export function dayStart(day: string): Date {
  if (!isDay(day)) throw new RangeError(`not a YYYY-MM-DD day: ${String(day)}`);
  return new Date(`${day}T00:00:00Z`);
}
