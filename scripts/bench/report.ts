/**
 * The markdown table `npm run bench` prints (and README's Performance section
 * shows): one row per section, the same figures as the JSON.
 *
 * @example
 * console.log(formatTable({ submit: result }));
 */
import type { Detail, SectionResult } from './result.ts';

export function formatTable(results: Record<string, SectionResult>): string {
  const rows = [
    '| section | value | baseline | ratio (bigger is better) | target | met | details |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [name, r] of Object.entries(results)) {
    if (r.value === null) {
      rows.push(`| ${name} | n/a | n/a | n/a | ${r.target} | n/a | ${cell(r.reason ?? '')}${r.details ? `; ${formatDetails(r.details)}` : ''} |`);
      continue;
    }
    const met = r.meets === null ? '–' : r.meets ? 'yes' : 'no';
    rows.push(`| ${name} | ${r.value} ${r.unit} | ${r.baseline} ${r.unit} | ${r.ratio}× | ${r.target} | ${met} | ${r.details ? formatDetails(r.details) : ''} |`);
  }
  return rows.join('\n');
}

function formatDetails(details: Record<string, Detail>): string {
  return cell(
    Object.entries(details)
      .map(([k, v]) => `${k}: ${v === null ? 'n/a' : v}`)
      .join('; '),
  );
}

/** Keeps a table cell on one line and its pipes from splitting it. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
