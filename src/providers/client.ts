/**
 * A configured provider: its connection (credentials in use, its lookup), its upstream
 * connections, its circuit breaker and its upstream budget, behind one call,
 * `fetchTask(nativeId)`, that either returns a TaskState or throws a GatewayError.
 */
import type { Dispatcher } from 'undici';
import { GatewayError, type ProblemCode } from '../errors.js';
import type { SecretRedactor } from '../redact.js';
import type { Config, ProviderConfig } from '../settings/schema.js';
import type { Tracer } from '../tracing/api.js';
import { LocalBudgetCounter, UpstreamBudget, type BudgetCounter } from '../upstream/budget.js';
import { CircuitBreaker, type CircuitState } from '../upstream/breaker.js';
import { UpstreamClient, type CallHooks, type UpstreamObserver } from '../upstream/client.js';
import type { UpstreamResponse } from '../upstream/types.js';
import { finalizeTask, StatusTable } from './normalize.js';
import type { InlineContent, ProviderConnection, ProviderDefinition, RequestTarget, StateOutput, TaskState, UpstreamCall } from './types.js';

/** Outcomes that say the provider itself is unwell, as opposed to an answer about the task. */
const CIRCUIT_FAILURES: ReadonlySet<ProblemCode> = new Set(['upstream_error', 'upstream_timeout']);

export interface ProviderClientObserver extends UpstreamObserver {
  onCircuitState(provider: string, state: CircuitState): void;
  /** A status word outside the provider's table (served as in_progress). */
  onUnknownStatus(provider: string, word: string): void;
}

export interface ProviderClientOptions {
  definition: ProviderDefinition;
  settings: ProviderConfig;
  config: Config;
  /** Shared by every provider: learns the tokens each one mints. */
  redactor: SecretRedactor;
  observer?: ProviderClientObserver;
  dispatcher?: Dispatcher;
  tracer: Tracer;
  /** Where the upstream budget is counted (the fleet's, in fleet mode); default: this process. */
  budgetCounter?: BudgetCounter;
}

export interface FetchOptions {
  /**
   * A poll loop's call, made once the upstream budget gave it a turn (which counted its
   * first request): its failures never count toward opening the circuit, though a
   * half-open circuit's probe is recorded whoever makes it.
   */
  background?: boolean;
}

function originOf(url: string | undefined): string | undefined {
  return url === undefined || !URL.canParse(url) ? undefined : new URL(url).origin;
}

/** What a lookup's calls tell its client: each request is spent from the budget, each answer is looked at for secrets. */
class LookupHooks implements CallHooks {
  constructor(
    private readonly budget: UpstreamBudget,
    private readonly redactor: SecretRedactor,
    /** A background turn's first request was paid for when the turn was given. */
    private prepaid: boolean,
    public mayHoldSecret: boolean,
  ) {}

  onRequest(): void {
    if (this.prepaid) this.prepaid = false;
    else this.budget.spend();
  }

  onResponse(response: UpstreamResponse): void {
    this.mayHoldSecret ||= this.redactor.mayHold(response.body);
  }
}

export class ProviderClient {
  readonly name: string;
  readonly pollIntervalMs: number;
  readonly statuses: StatusTable;
  /** The origins that get our credentials: the base URL's, and the provider's other URLs' (docs/content-and-links.md). */
  readonly origins: readonly string[];
  readonly definition: ProviderDefinition;
  /** `providers.<name>.maxRequestsPerSecond`: shared by client lookups and poll loops. */
  readonly budget: UpstreamBudget;
  private readonly upstream: UpstreamClient | undefined;
  private readonly connection: ProviderConnection | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly redactor: SecretRedactor;
  private readonly observer: ProviderClientObserver | undefined;
  private baseUrlHoldsSecret = false;

  constructor(options: ProviderClientOptions) {
    const { definition, settings, config, observer } = options;
    this.definition = definition;
    this.name = definition.name;
    this.pollIntervalMs = settings.pollIntervalMs;
    this.statuses = new StatusTable(definition.statuses);
    this.redactor = options.redactor;
    this.observer = observer;
    this.origins = [settings.baseUrl, ...Object.values(settings.urls)].map(originOf).filter((origin) => origin !== undefined);
    this.budget = new UpstreamBudget({
      perSecond: settings.maxRequestsPerSecond,
      counter: options.budgetCounter ?? new LocalBudgetCounter(),
      connections: settings.connections,
    });
    const { credentials, baseUrl } = settings;
    if (credentials !== undefined && baseUrl !== undefined) {
      const upstream = new UpstreamClient({
        provider: definition.name,
        baseUrl,
        timeoutMs: config.upstreamTimeoutMs,
        maxBodyBytes: config.maxUpstreamBodyBytes,
        retries: config.upstreamRetries,
        connections: settings.connections,
        observer,
        dispatcher: options.dispatcher,
        tracer: options.tracer,
      });
      this.upstream = upstream;
      // Relative result URLs resolve against the base URL: one that holds a key taints every state.
      this.baseUrlHoldsSecret = this.redactor.mayHold(baseUrl);
      const connection: ProviderConnection = definition.connect({
        settings: { ...settings, credentials, baseUrl },
        addSecret: (secret) => this.redactor.add(secret),
        newCall: () => upstream.call(this.authorize),
      });
      this.connection = connection;
    }
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
    return this.connection !== undefined;
  }

  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  acceptsId(nativeId: string): boolean {
    return this.definition.nativeIds.pattern.test(nativeId);
  }

  get idForm(): string {
    const { description, example } = this.definition.nativeIds;
    return `${description}, e.g. ${example}`;
  }

  /** Is this absolute URL on one of the provider's own origins (where its credentials are needed)? */
  isOwnOrigin(url: string): boolean {
    // Cheap prefix test first; the parse settles `https://api.example.evil` vs `https://api.example`.
    if (!this.origins.some((origin) => url.startsWith(origin))) return false;
    const origin = originOf(url);
    return origin !== undefined && this.origins.includes(origin);
  }

  /** Headers for fetching a result file at `url`: our credentials only on the provider's own origins. */
  async contentHeaders(url: string): Promise<Record<string, string>> {
    if (this.connection === undefined || this.upstream === undefined || !this.isOwnOrigin(url)) return {};
    return this.authorize(new URL(url), this.upstream.call(this.authorize));
  }

  /** The bytes of a private output that is not a URL (inline media), asked of the provider anew. */
  async openInline(nativeId: string, output: StateOutput): Promise<InlineContent> {
    const { connection, upstream } = this.ready();
    if (connection.openInline === undefined) {
      throw new GatewayError('upstream_invalid_response', { provider: this.name, detail: `${this.name} has no way to serve this output.` });
    }
    try {
      return await connection.openInline(nativeId, output, upstream.call(this.authorize));
    } catch (error) {
      throw this.redacted(error);
    }
  }

  async fetchTask(nativeId: string, options: FetchOptions = {}): Promise<TaskState> {
    const { connection, upstream } = this.ready();
    if (!this.acceptsId(nativeId)) {
      throw new GatewayError('invalid_task_id', { provider: this.name, detail: `A ${this.name} task id is ${this.idForm}.` });
    }
    const probe = this.breaker.acquire();
    // The gateway's own polling never opens a circuit: only client lookups, and probes, are its evidence.
    const recorded = options.background !== true || probe;
    try {
      // Upstream text may echo a secret back: redacted before an answer, a log or a metric sees
      // it. The state's text comes from the bodies, the native id and the base URL: when none
      // of them can hold one (the usual case), there is nothing to walk.
      const hooks = new LookupHooks(this.budget, this.redactor, options.background === true, this.baseUrlHoldsSecret || this.redactor.mayHold(nativeId));
      const draft = await connection.lookup(nativeId, upstream.call(this.authorize, hooks));
      const finished = this.markPrivate(finalizeTask(this.name, this.statuses, draft));
      const state = hooks.mayHoldSecret ? this.redactor.value(finished) : finished;
      // A word outside the table comes out as in_progress: only then is it worth a second look.
      if (draft.status === undefined && state.status === 'in_progress' && this.statuses.known(state.provider_status) === undefined) {
        this.observer?.onUnknownStatus(this.name, state.provider_status);
      }
      if (recorded) this.breaker.recordSuccess();
      return state;
    } catch (error) {
      if (!recorded) throw this.redacted(error);
      if (error instanceof GatewayError && CIRCUIT_FAILURES.has(error.code)) this.breaker.recordFailure();
      else this.breaker.recordSuccess();
      throw this.redacted(error);
    }
  }

  close(): Promise<void> {
    return this.upstream?.close() ?? Promise.resolve();
  }

  private ready(): { connection: ProviderConnection; upstream: UpstreamClient } {
    if (this.connection === undefined || this.upstream === undefined) {
      throw new GatewayError('provider_not_configured', {
        provider: this.name,
        detail: `${this.name} is not configured on this gateway (${this.definition.credentials.map((spec) => spec.env).join(', ')}).`,
      });
    }
    return { connection: this.connection, upstream: this.upstream };
  }

  /** The provider's credentials, only towards its own origins. */
  private readonly authorize = (url: RequestTarget, call: UpstreamCall): Record<string, string> | Promise<Record<string, string>> => {
    if (this.connection === undefined || !this.origins.includes(url.origin)) return {};
    return this.connection.authorize(url, call);
  };

  /** Files on the provider's own origins need our credentials: the client gets `/content` for them. */
  private markPrivate(state: TaskState): TaskState {
    if (!state.outputs.some((output) => output.private !== true && this.isOwnOrigin(output.url))) return state;
    const outputs = state.outputs.map((output): StateOutput => (output.private !== true && this.isOwnOrigin(output.url) ? { ...output, private: true } : output));
    return { ...state, outputs };
  }

  private redacted(error: unknown): unknown {
    if (error instanceof GatewayError) error.cause = this.redactor.value(error.cause);
    return error;
  }
}
