/**
 * What `tipline verify` reports, one line each:
 * - `problem`: the server differs from what was published; the run fails (exit 1);
 * - `change`: different from the last run (with `--state`), worth a human look;
 * - `warning`: not a mismatch, but needs attention soon (an expiring manifest);
 * - `info`: what was checked and found in order.
 * `--quiet` prints everything but `info`.
 */
export type Finding = { level: 'problem' | 'change' | 'warning' | 'info'; message: string };

/**
 * Page problems, one line per distinct problem naming the pages it was seen on:
 * a tampered layout shows on every page in every language, and that is one finding.
 */
export function problemsByPage(seen: { where: string; message: string }[]): Finding[] {
  const pages = new Map<string, string[]>();
  for (const { where, message } of seen) pages.set(message, [...(pages.get(message) ?? []), where]);
  return [...pages].map(([message, where]) => ({ level: 'problem', message: `${listPages(where)} ${message}` }));
}

function listPages(pages: string[]): string {
  return pages.length <= 2 ? pages.join(' and ') : `${pages.slice(0, 2).join(', ')} and ${pages.length - 2} more page(s)`;
}
