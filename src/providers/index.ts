/**
 * The provider registry. Adding a provider is one folder under src/providers/ and one
 * entry in PROVIDERS; everything else (settings, default routing, simulators, demo,
 * benchmarks, test stacks) is derived from this list.
 */
import { ark } from './ark/index.js';
import { dashscope } from './dashscope/index.js';
import { fal } from './fal/index.js';
import { gemini } from './gemini/index.js';
import { gravitex } from './gravitex/index.js';
import { kling } from './kling/index.js';
import { luma } from './luma/index.js';
import { minimax } from './minimax/index.js';
import { openai } from './openai/index.js';
import { openrouter } from './openrouter/index.js';
import { pixverse } from './pixverse/index.js';
import { replicate } from './replicate/index.js';
import { runway } from './runway/index.js';
import { vertex } from './vertex/index.js';
import { vidu } from './vidu/index.js';
import { vtrix } from './vtrix/index.js';

export const PROVIDERS = [vtrix, gravitex, openai, gemini, minimax, fal, replicate, ark, kling, dashscope, runway, luma, vertex, vidu, pixverse, openrouter] as const;

export type ProviderName = (typeof PROVIDERS)[number]['name'];

export const PROVIDER_NAMES = PROVIDERS.map((provider): ProviderName => provider.name);

const PROVIDERS_BY_NAME: ReadonlyMap<string, (typeof PROVIDERS)[number]> = new Map(PROVIDERS.map((provider) => [provider.name, provider]));

/** The provider with this exact name (as used in qualified ids), if there is one. */
export function getProvider(name: string): (typeof PROVIDERS)[number] | undefined {
  return PROVIDERS_BY_NAME.get(name);
}
