/**
 * Task lookups with the protections that keep a polling storm away from the providers:
 * one upstream call per task at a time (single flight), terminal tasks served from a
 * bounded cache, non-terminal answers reused until the provider's cadence has passed,
 * "no such task" remembered for a while, and ambiguous ids probed at all candidates
 * concurrently with the winner remembered. Where all that is kept is the TaskStore's
 * business: this process, or the fleet (src/fleet/store.ts).
 */
import type { Config } from '../settings/schema.js';
import { GatewayError } from '../errors.js';
import { decodeGatewayError, encodeGatewayError } from '../fleet/gateway-errors.js';
import type { Observation, TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import type { Route } from '../routing.js';
import { traceLookup, type LookupSource } from '../tracing/lookup-span.js';
import type { Tracer } from '../tracing/tracer.js';
import { isTerminal } from '../../schemas/task.js';

export interface Located {
  client: ProviderClient;
  /** The id as the provider knows it (what goes into its URL). */
  nativeId: string;
  observation: Observation;
}

type Probe = { found: Located } | { error: unknown };

function isNotFound(error: unknown): error is GatewayError {
  return error instanceof GatewayError && error.code === 'task_not_found';
}

/** The provider's cadence, or the one this answer set (OpenAI's poll-after header). */
export function cadenceOf(client: ProviderClient, state: TaskState): number {
  return state.cadenceMs ?? client.pollIntervalMs;
}

/**
 * Milliseconds until the provider's cadence has passed since the answer was fetched: when
 * asking again can bring something new. Between 0 and the cadence.
 */
export function refreshInMs(client: ProviderClient, observation: Observation, now: number): number {
  const cadence = cadenceOf(client, observation.state);
  return Math.min(cadence, Math.max(0, observation.fetchedAt + cadence - now));
}

export class TaskLookup {
  private readonly inFlight = new Map<string, Promise<Observation>>();

  constructor(
    private readonly config: Config,
    private readonly clients: ReadonlyMap<string, ProviderClient>,
    private readonly metrics: Metrics,
    private readonly store: TaskStore,
    /** When tracing is on: a span per fetch saying how it was answered. */
    private readonly tracer?: Tracer,
  ) {}

  /** Finds the task for a resolved route: at its provider, or at whichever candidate has it. */
  async locate(id: string, route: Route): Promise<Located> {
    if (route.providers.length === 1) {
      const client = this.client(route.providers[0]!);
      return { client, nativeId: route.nativeId, observation: await this.fetch(client, route.nativeId) };
    }
    const remembered = this.store.routes.peekLocal(id) ?? (this.store.shared ? await this.store.routes.get(id) : undefined);
    if (remembered !== undefined) {
      const client = this.client(remembered);
      return { client, nativeId: route.nativeId, observation: await this.fetch(client, route.nativeId) };
    }
    return this.probe(id, route);
  }

  /**
   * What locate() would find in this process's terminal cache, without a promise;
   * undefined when it is not there (the hot path of a finished task, issue 14 §2). The
   * caller falls back to locate(), which also asks the fleet's layer. With tracing on the
   * answer goes the whole way, so its lookup span says where it came from.
   */
  cachedTerminal(id: string, route: Route): Located | undefined {
    if (this.tracer !== undefined) return undefined;
    const name = route.providers.length === 1 ? route.providers[0] : this.store.routes.peekLocal(id);
    const client = name === undefined ? undefined : this.clients.get(name);
    if (client === undefined) return undefined;
    const observation = this.localTerminal(`${client.name}:${route.nativeId}`);
    return observation === undefined ? undefined : { client, nativeId: route.nativeId, observation };
  }

  /**
   * The task's state at one provider, through the caches and the single flight (poll loops
   * come through here too, so their calls are shared with plain GETs).
   */
  fetch(client: ProviderClient, nativeId: string): Promise<Observation> {
    if (this.tracer === undefined) return this.fetchOnce(client, nativeId);
    return traceLookup(this.tracer, client.name, nativeId, (answeredBy) => this.fetchOnce(client, nativeId, answeredBy));
  }

  /** fetch() itself; `answeredBy` hears how (a cache, another call in flight, or a new call). */
  private fetchOnce(client: ProviderClient, nativeId: string, answeredBy?: (source: LookupSource) => void): Promise<Observation> {
    const key = `${client.name}:${nativeId}`;
    const known = this.fromLocal(key, answeredBy);
    if (known !== undefined) return known;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      this.metrics.coalesced.inc();
      answeredBy?.('coalesced');
      return pending;
    }
    answeredBy?.('upstream');
    const call = this.load(client, nativeId, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, call);
    return call;
  }

  /** Keeps an observation another replica made (a poll loop's message) in this process's layer. */
  learn(client: ProviderClient, nativeId: string, observation: Observation): void {
    const key = `${client.name}:${nativeId}`;
    if (isTerminal(observation.state.status)) {
      this.store.terminal.hold(key, observation, this.config.cache.terminalTtlMs);
      return;
    }
    const left = observation.fetchedAt + this.reuseMs(client, observation.state) - Date.now();
    if (left > 0) this.store.fresh.hold(key, observation, left);
  }

  /** Drops what is cached about this task (in the fleet too), so the next fetch asks its provider. */
  async forget(client: ProviderClient, nativeId: string): Promise<void> {
    const key = `${client.name}:${nativeId}`;
    await Promise.all([this.store.terminal.delete(key), this.store.fresh.delete(key)]);
  }

  get sizes(): { terminal: number; fresh: number; notFound: number; inFlight: number; routeMemo: number } {
    const { terminal, fresh, notFound, routes } = this.store;
    return { terminal: terminal.localSize, fresh: fresh.localSize, notFound: notFound.localSize, inFlight: this.inFlight.size, routeMemo: routes.localSize };
  }

  /** What this process already holds, answered without a round trip to anyone. */
  private fromLocal(key: string, answeredBy?: (source: LookupSource) => void): Promise<Observation> | undefined {
    const done = this.localTerminal(key);
    if (done !== undefined) {
      answeredBy?.('terminal_cache');
      return Promise.resolve(done);
    }
    const recent = this.store.fresh.peekLocal(key);
    if (recent !== undefined) {
      this.metrics.freshHit.inc();
      answeredBy?.('fresh_cache');
      return Promise.resolve(recent);
    }
    const missing = this.store.notFound.peekLocal(key);
    if (missing !== undefined) {
      this.metrics.notFoundHit.inc();
      return Promise.reject(decodeGatewayError(missing));
    }
    return undefined;
  }

  /** A finished task in this process's terminal cache (counted as a hit). */
  private localTerminal(key: string): Observation | undefined {
    const done = this.store.terminal.peekLocal(key);
    if (done !== undefined) this.metrics.terminalHit.inc();
    return done;
  }

  /** The fleet's layer (one round trip); undefined on a miss. */
  private async fromShared(key: string): Promise<Observation | undefined> {
    const hit = await this.store.findShared(key);
    return hit === undefined ? undefined : this.fromLocal(key);
  }

  private async load(client: ProviderClient, nativeId: string, key: string): Promise<Observation> {
    if (this.store.shared) {
      const shared = await this.fromShared(key);
      if (shared !== undefined) return shared;
    }
    try {
      const observation = await this.store.singleFlight(key, this.config.upstreamTimeoutMs, () => this.call(client, nativeId, key));
      // Another replica may have made the call: keep its answer here too.
      if (this.store.shared) this.learn(client, nativeId, observation);
      return observation;
    } catch (error) {
      if (this.store.shared && isNotFound(error)) this.rememberNotFound(key, error, 'here');
      throw error;
    }
  }

  /** The upstream call itself, run by whichever caller (in the fleet: whichever replica) holds the flight. */
  private async call(client: ProviderClient, nativeId: string, key: string): Promise<Observation> {
    if (this.store.shared) {
      // The lease is ours, but another replica may have stored an answer since we looked.
      const stored = await this.fromShared(key);
      if (stored !== undefined) return stored;
    }
    this.metrics.cacheMiss.inc();
    let state: TaskState;
    try {
      state = await client.fetchTask(nativeId);
    } catch (error) {
      if (isNotFound(error)) this.rememberNotFound(key, error, 'everywhere');
      throw error;
    }
    const observation = { state, fetchedAt: Date.now() };
    // Not awaited: a shared write is sent before the flight's outcome, so no replica sees one without the other.
    if (isTerminal(state.status)) {
      void this.store.terminal.set(key, observation, this.config.cache.terminalTtlMs);
    } else {
      const reuseMs = this.reuseMs(client, state);
      if (reuseMs > 0) void this.store.fresh.set(key, observation, reuseMs);
    }
    return observation;
  }

  /** DESIGN.md: a running answer is reused until the cadence has passed; `cache.freshMs` only shortens that. */
  private reuseMs(client: ProviderClient, state: TaskState): number {
    const cadence = cadenceOf(client, state);
    const { freshMs } = this.config.cache;
    return freshMs === undefined ? cadence : Math.min(freshMs, cadence);
  }

  private rememberNotFound(key: string, error: GatewayError, where: 'here' | 'everywhere'): void {
    const windowMs = this.config.cache.notFoundMs;
    const shared = encodeGatewayError(error);
    if (windowMs <= 0 || shared === undefined) return;
    if (where === 'here') this.store.notFound.hold(key, shared, windowMs);
    else void this.store.notFound.set(key, shared, windowMs);
  }

  /** The provider's client by name (a webhook remembers where its task lives). */
  client(name: string): ProviderClient {
    const client = this.clients.get(name);
    if (client === undefined) throw new GatewayError('no_provider_for_task_id', { detail: `No provider is named "${name}".` });
    return client;
  }

  /**
   * DESIGN.md routing rule 3: ask every configured candidate at once; the first in rule
   * order that has the task wins; all "not found" is a 404; a failure beats "not found"
   * because we cannot know the task is absent there.
   */
  private async probe(id: string, route: Route): Promise<Located> {
    const candidates = route.providers.map((name) => this.client(name)).filter((client) => client.configured);
    if (candidates.length === 0) {
      const first = this.client(route.providers[0]!);
      return { client: first, nativeId: route.nativeId, observation: await this.fetch(first, route.nativeId) };
    }
    const probes: Promise<Probe>[] = candidates.map((client) =>
      this.fetch(client, route.nativeId).then(
        (observation) => ({ found: { client, nativeId: route.nativeId, observation } }),
        (error: unknown) => ({ error }),
      ),
    );
    let failure: unknown;
    for (const pending of probes) {
      const outcome = await pending;
      if ('found' in outcome) {
        void this.store.routes.set(id, outcome.found.client.name, this.config.cache.routeMemoTtlMs);
        return outcome.found;
      }
      if (!isNotFound(outcome.error) && failure === undefined) failure = outcome.error;
    }
    if (failure !== undefined) throw failure;
    throw new GatewayError('task_not_found', {
      detail: `No provider among ${candidates.map((client) => client.name).join(', ')} has this task.`,
    });
  }
}
