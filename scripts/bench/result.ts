/**
 * One section's figures, in the shape DESIGN.md's contract gives for
 * `npm run bench -- --json FILE`: `{ value, baseline, ratio, target, unit }`,
 * plus whether the target was met, and further figures in `details`.
 *
 * `ratio` always reads "bigger is better": value ÷ baseline for rates (tips/s,
 * MB/s), baseline ÷ value for times. A section that can't run has null
 * figures and a `reason` (printed as "n/a").
 *
 * @example
 * higherIsBetter({ value: 850, baseline: 1000, unit: 'tips/s', target: '≥ 0.7×', minRatio: 0.7 });
 * notAvailable({ unit: 'MB/s', target: '≥ 0.5×' }, 'Chromium is not installed');
 */
export type Detail = string | number | boolean | null;

export type SectionResult = {
  value: number | null;
  baseline: number | null;
  ratio: number | null;
  target: string;
  unit: string;
  /** Whether the target was met; null when there are no figures to judge. */
  meets: boolean | null;
  /** Why there are no figures. Present exactly when `value` is null. */
  reason?: string;
  details?: Record<string, Detail>;
};

type Figures = { value: number; baseline: number; unit: string; target: string; details?: Record<string, Detail> };

/** For rates: ratio = value ÷ baseline; the target is met at `minRatio` or more (and `alsoMeets`, if given). */
export function higherIsBetter(f: Figures & { minRatio: number; alsoMeets?: boolean }): SectionResult {
  const ratio = f.value / f.baseline;
  return make(f, ratio, ratio >= f.minRatio && (f.alsoMeets ?? true));
}

/** For times: ratio = baseline ÷ value; met at `minRatio` or more, or when `meets` says so. */
export function lowerIsBetter(f: Figures & { minRatio?: number; meets?: boolean }): SectionResult {
  const ratio = f.baseline / f.value;
  return make(f, ratio, f.meets ?? ratio >= (f.minRatio ?? 0));
}

export function notAvailable(f: { unit: string; target: string; details?: Record<string, Detail> }, reason: string): SectionResult {
  return { value: null, baseline: null, ratio: null, target: f.target, unit: f.unit, meets: null, reason, ...(f.details ? { details: f.details } : {}) };
}

function make(f: Figures, ratio: number, meets: boolean): SectionResult {
  return {
    value: round(f.value),
    baseline: round(f.baseline),
    ratio: round(ratio),
    target: f.target,
    unit: f.unit,
    meets,
    ...(f.details ? { details: f.details } : {}),
  };
}

/** Three significant digits: enough for a noisy machine, short enough to read. */
export function round(n: number): number {
  if (!Number.isFinite(n) || n === 0) return n;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(n))));
  return Number(n.toFixed(Math.min(digits, 6)));
}
