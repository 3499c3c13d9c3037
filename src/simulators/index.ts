/**
 * Provider simulators: real HTTP servers that answer like each provider in the registry,
 * with deterministic task timelines and injectable faults. Each provider's profile
 * (variants, seeds, wording, how it checks credentials) lives in its own folder, as
 * `src/providers/<name>/simulator.ts`, found by that name. Used by `npm run demo`, the
 * tests and the benchmarks; nothing here talks to the internet.
 */
import { PROVIDER_NAMES } from '../providers/index.js';
import { definitionOf } from './credentials.js';
import type { ProviderProfile } from './profile.js';
import { ProviderSimulator, type Simulator, type SimulatorOptions } from './server.js';
import { planTask, type TaskPlan } from './timeline.js';

export type { Simulator, SimulatorOptions } from './server.js';
export type { DemoTask, ProviderProfile, SeedTask, SimCredentials } from './profile.js';
export type { Fault, FaultKind, Phase, PhaseStatus, RawAnswer, TaskScript, Variant } from './script.js';
export { faultSchema, phaseSchema, taskScriptSchema } from './script.js';
export type { TaskPlan } from './timeline.js';
export { defaultOutcome, defaultTimeline } from './timeline.js';
export { defaultSimulatorKey, plainCredentials, simulatorCredentialValues } from './credentials.js';

/** Every provider that has a simulator: all of the registry. */
export const SIMULATED_PROVIDERS: readonly string[] = PROVIDER_NAMES;

/** The simulator profile of a provider in the registry (its folder's `simulator.ts`). */
export async function loadProfile(provider: string): Promise<ProviderProfile> {
  const { name } = definitionOf(provider);
  const module = (await import(`../providers/${name}/simulator.js`)) as { profile?: ProviderProfile };
  if (module.profile === undefined) throw new Error(`src/providers/${name}/simulator.ts exports no profile`);
  return module.profile;
}

/** Starts a simulator listening on `host:port` (default 127.0.0.1, any free port). */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const simulator = new ProviderSimulator(await loadProfile(options.provider), options);
  await simulator.listen();
  return simulator;
}

/**
 * What an unpinned id will do at a provider with default ownership (variant, model,
 * timeline), or undefined if that provider has no such task. Lets the demo say ahead of
 * time which ids fail, succeed fast, or show which variant.
 */
export async function describeTask(provider: string, id: string): Promise<TaskPlan | undefined> {
  return planTask(await loadProfile(provider), id, undefined);
}
