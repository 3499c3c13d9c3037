/**
 * Luma as its clients see it: `GET /dream-machine/v1/generations/{id}` with
 * `Authorization: Bearer <key>`, answered with a generation in Dream Machine's words
 * (queued, dreaming with perhaps a preview video, completed with `assets.video` or, for
 * an image generation, `assets.image`, failed with a `failure_reason`), or in the Agents
 * API's (processing, `output[]`, `failure_code`); ISO times; `{"detail": …}` errors.
 * Luma holds only some UUIDs (by hash), so a UUID several providers might hold can be
 * probed. Facts in docs/providers/luma.md.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { filePath, ownVariant, type ErrorAnswer, type ProviderProfile, type RenderInput, type SeedTask } from '../../simulators/profile.js';
import type { Phase, PhaseStatus, Variant } from '../../simulators/script.js';
import { draw, holdsShare, pick } from '../../simulators/timeline.js';
import { GENERATION_ID, LUMA_NAME } from './map.js';

/** A Ray video generation, a Photon image generation, a generation in the Agents API's shape. */
export const LUMA_VARIANTS = ['video', 'image', 'agents'] as const;
type LumaVariant = (typeof LUMA_VARIANTS)[number];

export const GENERATIONS_PREFIX = '/dream-machine/v1/generations/';

/** The documented example generation ("a fox", ray-2): dreaming when first asked, its video 24 s later. */
export const EXAMPLE_ID = '32ec5549-7b7a-4111-a43b-445b3a89c8ef';
/** A generation that fails on Luma's prompt moderation (the id is illustrative). */
export const FAILED_EXAMPLE_ID = '9b1f4c2e-7d3a-4e6b-8c5f-2a0d1e3b4c5d';
/** The example's video on Luma's CDN (path illustrative), as Luma writes it. */
export const EXAMPLE_VIDEO_URL = `https://storage.cdn-luma.com/dream-machine/${EXAMPLE_ID}/video.mp4`;
export const EXAMPLE_FAILURE = 'Advanced prompt moderation failed';
const EXAMPLE_REQUEST = { prompt: 'a fox', aspect_ratio: '16:9', duration: '5s' } as const;

const SEEDS = new Map<string, SeedTask>([
  [
    EXAMPLE_ID,
    {
      variant: 'video',
      model: 'ray-2',
      resultUrl: EXAMPLE_VIDEO_URL,
      timeline: [
        { atMs: 0, status: 'in_progress' },
        { atMs: 24_000, status: 'succeeded' },
      ],
    },
  ],
  [
    FAILED_EXAMPLE_ID,
    {
      variant: 'video',
      model: 'ray-2',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 2000, status: 'in_progress' },
        { atMs: 5000, status: 'failed' },
      ],
    },
  ],
]);

const VIDEO_MODELS = ['ray-2', 'ray-flash-2', 'ray-1-6'] as const;
const IMAGE_MODELS = ['photon-1', 'photon-flash-1'] as const;
const AGENTS_MODELS = ['uni-1', 'uni-1-max'] as const;

/** The failure reasons Luma documents for a generation that failed after it was submitted. */
export const FAILURE_REASONS = ['Contains blacklisted words', 'Frame moderation failed', 'Advanced prompt moderation failed', 'Prompt processing failed'] as const;
/** The Agents API's failures: a code for programs, a reason for people (the wording illustrative). */
export const AGENTS_FAILURES = [
  { code: 'content_moderated', reason: 'The prompt or an input image violated the content guidelines.' },
  { code: 'generation_failed', reason: 'The model ran into an internal error during generation.' },
] as const;

// Luma has no cancel: a canceled story reads as a failure.
const DREAM_MACHINE_WORDS: Readonly<Record<PhaseStatus, string>> = {
  queued: 'queued',
  in_progress: 'dreaming',
  succeeded: 'completed',
  failed: 'failed',
  canceled: 'failed',
};
const AGENTS_WORDS: Readonly<Record<PhaseStatus, string>> = { ...DREAM_MACHINE_WORDS, in_progress: 'processing' };

const PROMPTS = ['a lighthouse at dusk, waves crashing, film grain', 'a red panda rolling down a grassy hill, slow motion', 'an old lady laughing underwater'] as const;

const json = JSON.stringify;
const detailAnswer = (status: number, detail: string): ErrorAnswer => ({ status, body: json({ detail }) });
/** Luma's refusal of a key (the wording is illustrative: Luma does not document it). */
export const UNAUTHORIZED = detailAnswer(401, 'Invalid API key');
export const NOT_FOUND = detailAnswer(404, 'Generation not found');
const RATE_LIMITED = detailAnswer(429, 'Rate limit exceeded');
const UNKNOWN_PATH = detailAnswer(404, 'Not Found');

/** The UUIDs Luma holds: its seeds and Luma's share of all others (the UUID providers share them out). */
export function ownsGeneration(id: string): boolean {
  return SEEDS.has(id) || (GENERATION_ID.test(id) && holdsShare('uuid', LUMA_NAME, id));
}

/** Most generations are videos; some are images, some come in the Agents API's shape. */
function variantFor(id: string): Variant {
  const roll = draw(id, 'luma-variant', 10);
  return roll < 6 ? 'video' : roll < 8 ? 'image' : 'agents';
}

/** The model of a generation of this kind: the story's, unless it is of another family. */
function modelOf(variant: LumaVariant, input: RenderInput): string {
  if (variant === 'video' || !input.model.startsWith('ray-')) return input.model;
  return pick(input.id, 'luma-model', variant === 'image' ? IMAGE_MODELS : AGENTS_MODELS);
}

function stateWord(words: Readonly<Record<PhaseStatus, string>>, phase: Phase): string {
  return phase.providerStatus ?? words[phase.status];
}

function failed(phase: Phase): boolean {
  return phase.status === 'failed' || phase.status === 'canceled';
}

/** A file of the simulator's own: a preview while dreaming, an image generation's picture. */
function ownFile(input: RenderInput, name: string, extension: string): string {
  return `${input.baseUrl}${filePath(name, extension)}`;
}

/** What the generation was asked to do, which Luma repeats on every answer. */
function requestOf(variant: LumaVariant, model: string, input: RenderInput): Record<string, unknown> {
  if (input.id === EXAMPLE_ID) return { ...EXAMPLE_REQUEST };
  const prompt = pick(input.id, 'luma-prompt', PROMPTS);
  const aspect_ratio = pick(input.id, 'luma-ratio', ['16:9', '9:16', '1:1']);
  if (variant === 'image') return { generation_type: 'image', prompt, aspect_ratio, model };
  return { generation_type: 'video', prompt, aspect_ratio, model, resolution: pick(input.id, 'luma-resolution', ['540p', '720p', '1080p']), duration: pick(input.id, 'luma-duration', ['5s', '9s']) };
}

/** Dream Machine's files at one phase: a preview while dreaming (when the phase has progress), the result once completed. */
function assetsOf(variant: 'video' | 'image', input: RenderInput): Record<string, string> | null {
  const { phase, id } = input;
  if (phase.status === 'succeeded') return variant === 'video' ? { video: input.resultUrl } : { image: ownFile(input, id, 'jpg') };
  if (phase.status === 'in_progress' && variant === 'video' && phase.progress !== undefined) return { progress_video: ownFile(input, `${id}-progress`, 'mp4') };
  return null;
}

function renderDreamMachine(variant: 'video' | 'image', input: RenderInput): Record<string, unknown> {
  const { phase, id } = input;
  const model = modelOf(variant, input);
  return {
    id,
    generation_type: variant,
    state: stateWord(DREAM_MACHINE_WORDS, phase),
    failure_reason: failed(phase) ? (input.seeded ? EXAMPLE_FAILURE : pick(id, 'luma-failure', FAILURE_REASONS)) : null,
    created_at: new Date(input.createdAtMs).toISOString(),
    model,
    assets: assetsOf(variant, input),
    request: requestOf(variant, model, input),
  };
}

/** The Agents API's generation: `type`, `output[]` once completed, `failure_code` and `failure_reason` once failed. */
function renderAgents(input: RenderInput): Record<string, unknown> {
  const { phase, id } = input;
  const body: Record<string, unknown> = {
    id,
    created_at: new Date(input.createdAtMs).toISOString(),
    model: modelOf('agents', input),
    state: stateWord(AGENTS_WORDS, phase),
    type: 'image',
  };
  if (failed(phase)) {
    const failure = pick(id, 'luma-agents-failure', AGENTS_FAILURES);
    body['failure_code'] = failure.code;
    body['failure_reason'] = failure.reason;
  }
  if (phase.status === 'succeeded') body['output'] = [{ type: 'image', url: ownFile(input, id, 'jpg') }];
  return body;
}

function render(variantName: Variant, input: RenderInput): unknown {
  const variant = ownVariant(LUMA_NAME, LUMA_VARIANTS, variantName);
  return variant === 'agents' ? renderAgents(input) : renderDreamMachine(variant, input);
}

/** A UUID (version 4 form) from the hash of `attempt:seed`, the first attempt Luma holds. */
function generationIdFrom(seed: string): string {
  for (let attempt = 0; ; attempt++) {
    const bytes = createHash('sha256').update(`${attempt}:${seed}`).digest().subarray(0, 16);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = bytes.toString('hex');
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    if (ownsGeneration(id)) return id;
  }
}

export const profile: ProviderProfile = {
  name: LUMA_NAME,
  variants: LUMA_VARIANTS,
  seeds: SEEDS,
  demo: [
    {
      id: `luma:${EXAMPLE_ID}`,
      note: "Luma's example generation (a fox, ray-2): dreaming when first asked, completed 24 s later with its video (a UUID: qualified, since Runway and DashScope ids are UUIDs too)",
    },
    { id: `luma:${FAILED_EXAMPLE_ID}`, note: 'a generation that fails on prompt moderation 5 s after its first poll: failed, with the message "Advanced prompt moderation failed"' },
    {
      id: 'luma:5f0e2d1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f',
      note: 'a Photon image generation, already completed: one image output, served through /content',
      script: { variant: 'image', model: 'photon-1', timeline: [{ atMs: 0, status: 'succeeded' }] },
    },
  ],
  taskPathPrefix: GENERATIONS_PREFIX,
  models: VIDEO_MODELS,
  owns: ownsGeneration,
  variantFor,
  decorateTimeline: (_variant, timeline) => timeline,
  render,
  notFound: () => NOT_FOUND,
  unauthorized: () => UNAUTHORIZED,
  rateLimited: () => RATE_LIMITED,
  errorStatus(status) {
    if (status === 401) return UNAUTHORIZED;
    if (status === 404) return NOT_FOUND;
    if (status === 429) return RATE_LIMITED;
    return detailAnswer(status, STATUS_CODES[status] ?? 'Error');
  },
  unknownPath: () => UNKNOWN_PATH,
  contentRoute: () => undefined,
  sampleId: generationIdFrom,
};
