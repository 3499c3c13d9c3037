import type { TaskState } from '../../schemas/task.js';

/** A finished upstream HTTP exchange, body fully read (and capped) as text. */
export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface InterpretContext {
  /** The native id that was asked for. */
  nativeId: string;
  /** Base URL the request went to; relative result URLs resolve against it. */
  baseUrl: string;
}

/**
 * Everything the gateway needs to know about one provider. Adapters are pure: the
 * upstream client does the HTTP, the adapter says where to go and what the answer means.
 */
export interface ProviderDefinition {
  /** Name used in qualified ids and in every response, e.g. `vtrix`. */
  readonly name: string;
  /** Env prefix of its settings: `<PREFIX>_API_KEY`, `<PREFIX>_BASE_URL`. */
  readonly envPrefix: string;
  readonly defaultBaseUrl: string;
  /** How often a waiting client should poll this provider (its documented cadence). */
  readonly defaultPollIntervalMs: number;
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
}
