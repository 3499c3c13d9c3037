/**
 * What a benchmark scenario is to `npm run bench`: how it runs, and how its result reads
 * in BENCHMARKS.md (one summary row per target, then its own section). Every scenario is
 * one file exporting one of these, listed once in scenarios.ts; index.ts and report.ts
 * know none of them by name.
 */
import type { BenchSettings } from './stack.js';

/** One line of the summary table at the top of BENCHMARKS.md. */
export interface TargetRow {
  /** What is measured, e.g. "cached terminal task: gateway / minimal fastify, req/s". */
  target: string;
  /** The median of the runs with its spread, and what it is made of. */
  measured: string;
  /** The goal, e.g. "≥ 0.80×"; "report" when the row is there to be read, not judged. */
  goal: string;
  /** undefined: a reported figure with no goal, or a goal that could not be measured. */
  met: boolean | undefined;
}

export interface BenchScenario<Result = unknown> {
  /** Its name for `--only`, and its key in the raw results JSON. */
  name: string;
  /** What the progress log calls it. */
  title: string;
  run(settings: BenchSettings): Promise<Result>;
  targets(result: Result): TargetRow[];
  /** Its section of BENCHMARKS.md's generated part (markdown lines). */
  details(result: Result): string[];
}

/**
 * A scenario as the list holds it: its result is opaque to everyone but itself (and it
 * travels through the raw results JSON in between).
 */
export type ListedScenario = BenchScenario<unknown>;

/** Type-checks a scenario against its own result type, then lists it like any other. */
export function defineScenario<Result>(scenario: BenchScenario<Result>): ListedScenario {
  return {
    ...scenario,
    targets: (result) => scenario.targets(result as Result),
    details: (result) => scenario.details(result as Result),
  };
}
