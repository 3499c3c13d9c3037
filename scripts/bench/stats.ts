/**
 * Small statistics for the benchmark tables: every figure is the median of several runs
 * with its spread (min-max), because these 2-core machines are noisy.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), runs: finite.length };
}

/** Nearest-rank percentile of an unsorted sample (`fraction` in 0-1). */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `12,345 (11,900-12,800)`: the median with the spread of the runs. */
export function formatSpread(value: Spread, digits = 0, unit = ''): string {
  if (value.runs === 0) return 'n/a';
  if (value.runs === 1) return `${round(value.median, digits)}${unit}`;
  return `${round(value.median, digits)}${unit} (${round(value.min, digits)}-${round(value.max, digits)})`;
}
