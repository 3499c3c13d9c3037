/**
 * Provider simulators: real HTTP servers that answer like vtrix and gravitex, with
 * deterministic task timelines and injectable faults. Used by `npm run demo`, the tests
 * and the benchmarks; nothing here talks to the internet.
 */
import { gravitexProfile } from './gravitex.js';
import type { ProviderProfile } from './profile.js';
import type { ProviderKind } from './script.js';
import { ProviderSimulator, type Simulator, type SimulatorOptions } from './server.js';
import { planTask, type TaskPlan } from './timeline.js';
import { vtrixProfile } from './vtrix.js';

export type { Simulator, SimulatorOptions } from './server.js';
export type {
  Fault,
  FaultKind,
  GravitexVariant,
  Phase,
  PhaseStatus,
  ProviderKind,
  RawAnswer,
  TaskScript,
  Variant,
  VtrixVariant,
} from './script.js';
export { faultSchema, GRAVITEX_VARIANTS, phaseSchema, taskScriptSchema, VTRIX_VARIANTS } from './script.js';
export type { TaskPlan } from './timeline.js';
export { defaultOutcome, defaultTimeline, SEED_TASKS } from './timeline.js';

const PROFILES: Readonly<Record<ProviderKind, ProviderProfile>> = { vtrix: vtrixProfile, gravitex: gravitexProfile };

/** Starts a simulator listening on `host:port` (default 127.0.0.1, any free port). */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const simulator = new ProviderSimulator(PROFILES[options.provider], options);
  await simulator.listen();
  return simulator;
}

/**
 * What an unpinned id will do at a provider with default ownership (variant, model,
 * timeline), or undefined if that provider has no such task. Lets the demo say ahead of
 * time which ids fail, succeed fast, or show which variant.
 */
export function describeTask(provider: ProviderKind, id: string): TaskPlan | undefined {
  return planTask(PROFILES[provider], id, undefined);
}
