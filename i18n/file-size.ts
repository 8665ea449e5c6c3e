/**
 * File sizes in the source's language ("2 GB", "2 Go", "3,5 MB"). Shared by the
 * server (the limits in the form's hint) and the page script (each chosen
 * file's size, the limits in refusals), so both say the same thing. Units are
 * binary (1 GB here is 1024³ bytes), as file managers show them.
 *
 * @example
 * formatFileSize(2 * 1024 ** 3, 'fr'); // '2 Go'
 */
const UNITS = [
  [1024 ** 3, 'gigabyte'],
  [1024 ** 2, 'megabyte'],
  [1024, 'kilobyte'],
] as const;

export function formatFileSize(bytes: number, lang: string): string {
  const [scale, unit] = UNITS.find(([s]) => bytes >= s) ?? [1, 'byte'];
  const value = bytes / scale;
  try {
    return new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: value < 10 ? 1 : 0 }).format(value);
  } catch {
    // A browser without unit formatting still gets a readable size.
    return `${value.toFixed(value < 10 ? 1 : 0)} ${unit === 'byte' ? 'B' : `${unit[0]!.toUpperCase()}B`}`;
  }
}
