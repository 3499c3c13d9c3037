/**
 * Deterministic task lives. Every detail a simulator invents for an id (variant, model,
 * durations, outcome, cosmetic quirks) is drawn from a stable hash of that id, so a demo
 * or a test sees the same story on every run without registering anything.
 */
import type { ProviderProfile, SeedTask } from './profile.js';
import type { Phase, PhaseStatus, TaskScript, Variant } from './script.js';

/** 32-bit FNV-1a, finished with murmur3's avalanche so that similar ids spread well. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A number in [0, choices) for one purpose; salting keeps the draws of one id independent. */
export function draw(id: string, purpose: string, choices: number): number {
  return fnv1a(`${purpose}:${id}`) % choices;
}

/** One of `items`, chosen by the id's hash for one purpose. */
export function pick<Item>(id: string, purpose: string, items: readonly Item[]): Item {
  const item = items[draw(id, purpose, items.length)];
  if (item === undefined) throw new Error(`nothing to pick from for ${purpose}`);
  return item;
}

/**
 * The outcome naming rule (documented for demo users): an id containing `fail` fails,
 * one containing `cancel` is canceled, otherwise ~85% succeed and ~15% fail by hash.
 */
export function defaultOutcome(id: string): PhaseStatus {
  if (id.includes('fail')) return 'failed';
  if (id.includes('cancel')) return 'canceled';
  return draw(id, 'outcome', 100) < 15 ? 'failed' : 'succeeded';
}

/**
 * Queued for 1-3 s, then 3-6 progress steps spread over 8-20 s of running, then the
 * outcome. Progress starts near 5% and climbs in steps at least 13 points apart.
 */
export function defaultTimeline(id: string): Phase[] {
  const queuedMs = 1000 + draw(id, 'queued-ms', 2001);
  const runningMs = 8000 + draw(id, 'running-ms', 12001);
  const steps = 3 + draw(id, 'steps', 4);
  const phases: Phase[] = [{ atMs: 0, status: 'queued' }];
  for (let step = 0; step < steps; step++) {
    phases.push({
      atMs: queuedMs + Math.round((runningMs * step) / steps),
      status: 'in_progress',
      progress: 5 + Math.round((95 * step) / steps) - draw(id, `jitter-${step}`, 3),
    });
  }
  phases.push({ atMs: queuedMs + runningMs, status: defaultOutcome(id) });
  return phases;
}

/** Index of the phase that is current `elapsedMs` into a timeline sorted by `atMs`. */
export function phaseIndexAt(timeline: readonly Phase[], elapsedMs: number): number {
  let current = 0;
  for (let index = 1; index < timeline.length; index++) {
    const phase = timeline[index];
    if (phase === undefined || phase.atMs > elapsedMs) break;
    current = index;
  }
  return current;
}

/** Everything decided about a task that exists, before its clock starts. */
export interface TaskPlan {
  variant: Variant;
  model: string;
  timeline: readonly Phase[];
  /** Set for the seed documents' ids: they keep their documented URL and exact shape. */
  seed: SeedTask | undefined;
}

/**
 * A task's story: a pinned script first, then the seed documents', then the hash-derived
 * default (its variant the one the id's form implies, if the profile says one). Undefined when the provider has no such task. An explicitly pinned task exists
 * even if its id says `missing` or has another provider's shape.
 */
export function planTask(
  profile: ProviderProfile,
  id: string,
  pinned: TaskScript | undefined,
  owns: (id: string) => boolean = profile.owns,
): TaskPlan | undefined {
  if (pinned?.missing === true) return undefined;
  if (pinned === undefined && (id.includes('missing') || !owns(id))) return undefined;
  const seed = profile.seeds.get(id);
  const variant = pinned?.variant ?? seed?.variant ?? profile.variantFor?.(id) ?? pick(id, 'variant', profile.variants);
  return {
    variant,
    model: pinned?.model ?? seed?.model ?? pick(id, 'model', profile.models),
    timeline: pinned?.timeline ?? seed?.timeline ?? profile.decorateTimeline(variant, defaultTimeline(id), id),
    seed,
  };
}

/**
 * Providers whose ids have one form between them (long digit strings; UUIDs): a bare id of
 * that form is asked of all of them at once. Each simulator holds one share of those ids
 * (besides its seeds and pinned tasks), so that a bare id has a single owner whichever of
 * them run, as with the real providers.
 */
export const SHARED_ID_FORMS = {
  digits: ['kling', 'minimax', 'vidu', 'pixverse'],
  uuid: ['runway', 'luma', 'dashscope'],
} as const satisfies Record<string, readonly string[]>;

/** Whether `provider` holds `id` among the providers that share its form. */
export function holdsShare(form: keyof typeof SHARED_ID_FORMS, provider: string, id: string): boolean {
  const owners: readonly string[] = SHARED_ID_FORMS[form];
  return owners[draw(id.toLowerCase(), `${form}-owner`, owners.length)] === provider;
}
