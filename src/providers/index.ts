/**
 * The provider registry. Adding a provider is one folder under src/providers/ and one
 * entry in PROVIDERS.
 */
import { gravitex } from './gravitex/index.js';
import type { ProviderDefinition } from './types.js';
import { vtrix } from './vtrix/index.js';

export const PROVIDERS: readonly ProviderDefinition[] = [vtrix, gravitex];

const PROVIDERS_BY_NAME: ReadonlyMap<string, ProviderDefinition> = new Map(
  PROVIDERS.map((provider) => [provider.name, provider]),
);

/** The provider with this exact name (as used in qualified ids), if there is one. */
export function getProvider(name: string): ProviderDefinition | undefined {
  return PROVIDERS_BY_NAME.get(name);
}
