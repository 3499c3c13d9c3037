/**
 * What a provider is to the gateway: its settings' names and defaults, its default id
 * rules, where its status call lives, and a pure interpretation of the answer.
 */
import type { Task } from '../../schemas/task.js';
import type { ProviderProfile } from '../simulators/profile.js';
import type { UpstreamResponse } from '../upstream/types.js';

/**
 * A task as its provider reported it, before the gateway adds what depends on the request
 * (`id`, `provider`, `poll_after_ms`, `content_url`, and gateway URLs for outputs that
 * need our key). `outputs` and `url` hold the provider's own URLs.
 */
export type TaskState = Omit<Task, 'id' | 'provider' | 'poll_after_ms' | 'content_url'> & {
  /** This answer's cadence when the provider said one (OpenAI's `openai-poll-after-ms`). */
  cadenceMs?: number;
};

export interface InterpretContext {
  /** The native id that was asked for. */
  nativeId: string;
  /** Base URL the request went to; relative result URLs resolve against it. */
  baseUrl: string;
}

/**
 * One default routing rule a provider claims: ids with this prefix (or matching this
 * anchored pattern) may be its. `order` places the rule in the default table and the
 * provider among the rule's candidates: rules with the same matcher merge into one rule
 * whose candidates are sorted by `order`, and the table is sorted by each rule's lowest.
 */
export interface IdRule {
  prefix?: string;
  pattern?: string;
  order: number;
}

export interface ProviderDefinition<Name extends string = string> {
  /** Name used in qualified ids and in every response, e.g. `vtrix`. */
  readonly name: Name;
  /** Env prefix of its settings: `<PREFIX>_API_KEY`, `<PREFIX>_BASE_URL`. */
  readonly envPrefix: string;
  readonly defaultBaseUrl: string;
  /** How often to poll this provider (its documented cadence). */
  readonly defaultPollIntervalMs: number;
  readonly idRules: readonly IdRule[];
  /** Path (with the native id URL-encoded) of the status call, relative to the base URL. */
  taskPath(nativeId: string): string;
  /** Request headers that carry the provider key. */
  authHeaders(apiKey: string): Record<string, string>;
  /**
   * Turns the final upstream answer into a TaskState, or throws a GatewayError:
   * `task_not_found`, `upstream_auth_failed`, `upstream_rate_limited`, `upstream_error`,
   * `upstream_invalid_response`. Never returns a state that breaks the Task invariants.
   */
  interpret(response: UpstreamResponse, context: InterpretContext): TaskState;
  /** The provider's simulator profile (a dev tool, loaded only by the simulators). */
  simulator(): Promise<ProviderProfile>;
}
