/**
 * What `tipline admin doctor` reports: one finding per check, its level and a
 * message an admin can act on. In its own file so that each group of checks
 * (doctor.ts, postgres-settings.ts) can make findings without importing the
 * others.
 *
 * @module
 * @example
 * const f: Finding = { level: 'warning', topic: 'backup', message: 'no backup in 7 days' };
 */
export type FindingLevel = 'ok' | 'warning' | 'error';
export type Finding = { level: FindingLevel; topic: string; message: string };
