/**
 * Deterministic task lives. Every detail a simulator invents for an id (variant, model,
 * durations, outcome, cosmetic quirks) is drawn from a stable hash of that id, so a demo
 * or a test sees the same story on every run without registering anything.
 */
import type { ProviderProfile } from './profile.js';
import type { Phase, PhaseStatus, ProviderKind, TaskScript, Variant } from './script.js';

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

export interface SeedTask {
  variant: Variant;
  timeline: Phase[];
  model?: string;
  /** The seed documents' own result URL, kept verbatim. */
  resultUrl?: string;
}

/**
 * The ids that appear in `seeds/` and providers.md, with the stories those documents tell.
 * `task_abc001` is the CLI doc's example (completes ~20 s in, like its `Elapsed: 23s`);
 * the gravitex doc's `video_…` example is already done when first asked.
 */
export const SEED_TASKS: Readonly<Record<ProviderKind, ReadonlyMap<string, SeedTask>>> = {
  vtrix: new Map<string, SeedTask>([
    [
      'task_abc001',
      {
        variant: 'cli',
        model: 'spark_dance_v2_0',
        resultUrl: 'https://cdn.vtrix.ai/outputs/task_abc001/output.mp4',
        timeline: [
          { atMs: 0, status: 'queued' },
          { atMs: 2000, status: 'in_progress', progress: 10 },
          { atMs: 6000, status: 'in_progress', progress: 30 },
          { atMs: 11_000, status: 'in_progress', progress: 55 },
          { atMs: 16_000, status: 'in_progress', progress: 80 },
          { atMs: 20_000, status: 'succeeded' },
        ],
      },
    ],
    [
      'd758n65e878c73cmdg20',
      {
        variant: 'model',
        model: 'spark_dance_v2_0',
        timeline: [
          { atMs: 0, status: 'queued' },
          { atMs: 1500, status: 'in_progress', progress: 12 },
          { atMs: 5000, status: 'in_progress', progress: 42 },
          { atMs: 9000, status: 'in_progress', progress: 71 },
          { atMs: 12_000, status: 'in_progress', progress: 93 },
          { atMs: 14_000, status: 'succeeded' },
        ],
      },
    ],
    [
      'd5u5obte8783ap44qtj0',
      {
        variant: 'legacy',
        model: 'spark_motion_v1_5',
        // providers.md's legacy example shows `in_queue` already at progress 10.
        timeline: [
          { atMs: 0, status: 'queued', progress: 10 },
          { atMs: 2500, status: 'in_progress', progress: 35 },
          { atMs: 7000, status: 'in_progress', progress: 60 },
          { atMs: 11_000, status: 'in_progress', progress: 85 },
          { atMs: 15_000, status: 'succeeded' },
        ],
      },
    ],
  ]),
  gravitex: new Map<string, SeedTask>([
    [
      'video_69095b4ce0048190893a01510c0c98b0',
      {
        variant: 'documented',
        model: 'sora-2',
        resultUrl: 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4',
        timeline: [{ atMs: 0, status: 'succeeded' }],
      },
    ],
  ]),
};

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
 * default. Undefined when the provider has no such task. An explicitly pinned task exists
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
  const seed = SEED_TASKS[profile.kind].get(id);
  const variant = pinned?.variant ?? seed?.variant ?? pick(id, 'variant', profile.variants);
  return {
    variant,
    model: pinned?.model ?? seed?.model ?? pick(id, 'model', profile.models),
    timeline: pinned?.timeline ?? seed?.timeline ?? profile.decorateTimeline(variant, defaultTimeline(id), id),
    seed,
  };
}
