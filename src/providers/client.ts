/**
 * A configured provider: its adapter, its connection pool and its circuit breaker, behind
 * one call, `fetchTask(nativeId)`, that either returns a TaskState or throws a GatewayError.
 */
import type { Dispatcher } from 'undici';
import type { Config, ProviderConfig } from '../settings/schema.js';
import { GatewayError, type ProblemCode } from '../errors.js';
import { SecretRedactor } from '../redact.js';
import type { Tracer } from '../tracing/tracer.js';
import { CircuitBreaker, type CircuitState } from '../upstream/breaker.js';
import { UpstreamClient, type UpstreamObserver } from '../upstream/client.js';
import { knownTaskStatus } from './normalize.js';
import type { ProviderDefinition, TaskState } from './types.js';

/** Outcomes that say the provider itself is unwell, as opposed to an answer about the task. */
const CIRCUIT_FAILURES: ReadonlySet<ProblemCode> = new Set(['upstream_error', 'upstream_timeout']);

export interface ProviderClientObserver extends UpstreamObserver {
  onCircuitState(provider: string, state: CircuitState): void;
  /** A status word outside the mapping (served as in_progress). */
  onUnknownStatus(provider: string, word: string): void;
}

export class ProviderClient {
  readonly name: string;
  readonly pollIntervalMs: number;
  /** The origin of the provider's base URL: files there need our key (DESIGN.md). */
  readonly origin: string;
  private readonly upstream: UpstreamClient | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly headers: Record<string, string>;
  private readonly redactor: SecretRedactor;
  /** A base URL (which relative result URLs resolve against) that itself holds a key: redact every state. */
  private readonly baseUrlHoldsSecret: boolean;

  constructor(
    private readonly definition: ProviderDefinition,
    private readonly settings: ProviderConfig,
    config: Config,
    private readonly observer?: ProviderClientObserver,
    dispatcher?: Dispatcher,
    tracer?: Tracer,
  ) {
    this.name = definition.name;
    this.pollIntervalMs = settings.pollIntervalMs;
    this.origin = new URL(settings.baseUrl).origin;
    this.redactor = SecretRedactor.fromConfig(config);
    this.baseUrlHoldsSecret = this.redactor.mayHold(settings.baseUrl);
    // Only the provider's own auth goes upstream: client headers are never forwarded.
    this.headers = settings.apiKey === undefined ? {} : { accept: 'application/json', ...definition.authHeaders(settings.apiKey) };
    this.upstream =
      settings.apiKey === undefined
        ? undefined
        : new UpstreamClient({
            provider: definition.name,
            baseUrl: settings.baseUrl,
            timeoutMs: config.upstreamTimeoutMs,
            maxBodyBytes: config.maxUpstreamBodyBytes,
            retries: config.upstreamRetries,
            connections: settings.connections,
            observer,
            dispatcher,
            tracer,
            urlTemplate: tracer === undefined ? undefined : definition.taskPath('{id}').replaceAll('%7Bid%7D', '{id}'),
          });
    this.breaker = new CircuitBreaker({
      provider: definition.name,
      failureThreshold: config.circuit.failureThreshold,
      openMs: config.circuit.openMs,
      onStateChange: observer ? (provider, state) => observer.onCircuitState(provider, state) : undefined,
    });
    // Report the initial state too: a gauge without a sample reads as "no data", not "closed".
    observer?.onCircuitState(definition.name, this.breaker.state);
  }

  get configured(): boolean {
    return this.upstream !== undefined;
  }

  /** Is this absolute URL on the provider's own origin (where its key is needed)? */
  isOwnOrigin(url: string): boolean {
    // Cheap prefix test first; the parse settles `https://api.example.evil` vs `https://api.example`.
    if (!url.startsWith(this.origin)) return false;
    try {
      return new URL(url).origin === this.origin;
    } catch {
      return false;
    }
  }

  /** Headers for fetching a result file at `url`: our key only for the provider's own origin. */
  contentHeaders(url: string): Record<string, string> {
    if (this.settings.apiKey === undefined || !this.isOwnOrigin(url)) return {};
    return this.definition.authHeaders(this.settings.apiKey);
  }

  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  async fetchTask(nativeId: string): Promise<TaskState> {
    if (this.upstream === undefined) {
      throw new GatewayError('provider_not_configured', {
        provider: this.name,
        detail: `${this.name} has no API key configured on this gateway.`,
      });
    }
    // "." and ".." pass the id pattern but are dot-segments once in a URL path: an upstream
    // proxy would resolve `/task/..` to its parent route. No provider issues such ids.
    if (nativeId === '.' || nativeId === '..') {
      throw new GatewayError('invalid_task_id', { detail: 'A task id cannot be "." or "..".' });
    }
    this.breaker.acquire();
    try {
      const response = await this.upstream.get(this.definition.taskPath(nativeId), this.headers);
      // Upstream text may echo a key back: redacted before an answer, a log or a metric sees it.
      // The state's text comes from the body, the native id and the base URL: when none of
      // them can hold a key (the usual case), there is nothing to walk.
      const interpreted = this.definition.interpret(response, { nativeId, baseUrl: this.settings.baseUrl });
      const redact = this.baseUrlHoldsSecret || this.redactor.mayHold(response.body) || this.redactor.mayHold(nativeId);
      const state = redact ? this.redactor.value(interpreted) : interpreted;
      if (knownTaskStatus(state.provider_status) === undefined) this.observer?.onUnknownStatus(this.name, state.provider_status);
      this.breaker.recordSuccess();
      return state;
    } catch (error) {
      if (error instanceof GatewayError) error.cause = this.redactor.value(error.cause);
      if (error instanceof GatewayError && CIRCUIT_FAILURES.has(error.code)) this.breaker.recordFailure();
      else this.breaker.recordSuccess();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.upstream?.close() ?? Promise.resolve();
  }
}
