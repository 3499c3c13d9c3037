/**
 * The credentials a simulator accepts by default: one value per credential the provider
 * declares, and the environment that hands them (and the simulator's URL) to a gateway.
 */
import { getProvider, PROVIDER_NAMES } from '../providers/index.js';
import type { ProviderDefinition } from '../providers/types.js';
import { baseUrlVariable } from '../settings/schema.js';
import type { SimCredentials } from './profile.js';

export function definitionOf(provider: string): ProviderDefinition {
  const definition = getProvider(provider);
  if (definition === undefined) throw new Error(`no provider is named "${provider}" (known: ${PROVIDER_NAMES.join(', ')})`);
  return definition;
}

/**
 * Credential values for a provider's simulator, made from one word (`demo`, `test`…):
 * `<word>-<provider>-key` for an API key, `<word>-<provider>-<setting>` for the others.
 */
export function simulatorCredentialValues(provider: string, word = 'demo'): Record<string, string> {
  return Object.fromEntries(
    definitionOf(provider).credentials.map((spec) => [spec.setting, spec.setting === 'apiKey' ? `${word}-${provider}-key` : `${word}-${provider}-${spec.setting}`]),
  );
}

/** The key a one-key provider's simulator expects when none is given (the demo's and the simulator CLI's). */
export function defaultSimulatorKey(provider: string): string {
  return simulatorCredentialValues(provider)['apiKey'] ?? `demo-${provider}-key`;
}

/** The default credentials: the values as they are, and the environment that names them and the simulator. */
export function plainCredentials(provider: string, values: Readonly<Record<string, string>>, url: string): SimCredentials {
  const definition = definitionOf(provider);
  const env: Record<string, string> = { [baseUrlVariable(definition)]: url };
  for (const spec of definition.credentials) {
    const value = values[spec.setting];
    if (value !== undefined) env[spec.env] = value;
  }
  return { values, env };
}

