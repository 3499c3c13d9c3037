/**
 * Task lookups with the protections that keep a polling storm away from the providers:
 * one upstream call per task at a time (single flight), terminal tasks served from a
 * bounded cache, non-terminal answers reused until the provider's cadence has passed,
 * "no such task" remembered for a while, and ambiguous ids probed at all candidates
 * concurrently with the winner remembered. Where all that is kept is the TaskStore's
 * business: this process, or the fleet (src/fleet/store.ts).
 */
import { background, type BackgroundLog } from '../background.js';
import type { Config } from '../settings/schema.js';
import type { ArchiveHooks } from '../archive/archive.js';
import { GatewayError } from '../errors.js';
import { decodeGatewayError, encodeGatewayError } from '../fleet/gateway-errors.js';
import type { AnswerCache, Observation, TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import type { Candidate, Route } from '../routing.js';
import type { Tracer } from '../tracing/api.js';
import { traceCachedLookup, traceLookup, type LookupSource } from '../tracing/lookup-span.js';
import { isTerminal } from '../../schemas/task.js';

/** An Observation with where it was found (src/tasks/render.ts lists every shape of a task). */
export interface Located {
  client: ProviderClient;
  /** The id as the provider knows it (what goes into its URL). */
  nativeId: string;
  observation: Observation;
}

type Probe = { found: Located } | { error: unknown };

/** A poll loop's fetch: it waits for its turn in the provider's upstream budget. */
export interface BackgroundFetch {
  /** Aborted when the loop stops: it leaves the budget's queue at once. */
  signal?: AbortSignal;
  /** Watched tasks of this provider polled here (as of the answer, not of the wait for a turn): how thin the budget is spread. */
  pollers: () => number;
}

function isNotFound(error: unknown): error is GatewayError {
  return error instanceof GatewayError && error.code === 'task_not_found';
}

/** The provider's cadence, or the one this answer set (OpenAI's poll-after header). */
export function cadenceOf(client: Pick<ProviderClient, 'pollIntervalMs'>, state: TaskState): number {
  return state.cadenceMs ?? client.pollIntervalMs;
}

/**
 * Milliseconds until the provider's cadence has passed since the answer was fetched: when
 * asking again can bring something new. Between 0 and the cadence.
 */
export function refreshInMs(client: Pick<ProviderClient, 'pollIntervalMs'>, observation: Observation, now: number): number {
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
    /** A span per fetch saying how it was answered (the no-op tracer when tracing is off). */
    private readonly tracer: Tracer,
    /** Where the shared writes nobody waits for report a failure (they are not expected to fail). */
    readonly log: BackgroundLog,
    /** When the result archive is on: it sees every fresh answer, and answers for tasks their provider forgot. */
    private readonly archive?: ArchiveHooks,
  ) {}

  /** Finds the task for a resolved route: at its one candidate, or at whichever candidate has it. */
  async locate(id: string, route: Route): Promise<Located> {
    const known = this.knownCandidate(id, route) ?? (this.store.shared ? this.remembered(route, await this.store.routes.get(id)) : undefined);
    if (known === undefined) return this.probe(id, route);
    const client = this.client(known.provider);
    return { client, nativeId: known.nativeId, observation: await this.fetch(client, known.nativeId) };
  }

  /**
   * What locate() would find in this process's terminal cache, without a promise;
   * undefined when it is not there (the hot path of a finished task). The caller falls
   * back to locate(), which also asks the fleet's layer.
   */
  cachedTerminal(id: string, route: Route): Located | undefined {
    const known = this.knownCandidate(id, route);
    const client = known === undefined ? undefined : this.clients.get(known.provider);
    if (known === undefined || client === undefined) return undefined;
    const observation = this.localTerminal(`${client.name}:${known.nativeId}`);
    if (observation === undefined) return undefined;
    traceCachedLookup(this.tracer, client.name, known.nativeId);
    return { client, nativeId: known.nativeId, observation };
  }

  /** The route's one candidate, or the one this process remembers having the task; undefined: ask around. */
  private knownCandidate(id: string, route: Route): Candidate | undefined {
    if (route.candidates.length === 1) return route.candidates[0];
    return this.remembered(route, this.store.routes.peekLocal(id));
  }

  /** A remembered `provider:nativeId`, if it is still one of the route's candidates (the rules may have changed). */
  private remembered(route: Route, value: string | undefined): Candidate | undefined {
    if (value === undefined) return undefined;
    const colon = value.indexOf(':');
    // A bare provider name: remembered by an older version, before providers had several native ids per id.
    const provider = colon === -1 ? value : value.slice(0, colon);
    const nativeId = colon === -1 ? route.nativeId : value.slice(colon + 1);
    return route.candidates.find((candidate) => candidate.provider === provider && candidate.nativeId === nativeId);
  }

  /**
   * The task's state at one provider, through the caches and the single flight (poll loops
   * come through here too, so their calls are shared with plain GETs). A poll loop's fetch
   * (`background`) that needs a new call waits for its turn in the provider's budget first.
   */
  fetch(client: ProviderClient, nativeId: string, background?: BackgroundFetch): Promise<Observation> {
    const found = traceLookup(this.tracer, client.name, nativeId, (answeredBy) => this.fetchOnce(client, nativeId, background, answeredBy));
    const { archive } = this;
    return archive === undefined ? found : found.catch((error: unknown) => archive.recover(client, nativeId, error));
  }

  /** fetch() itself; `answeredBy` hears how (a cache, another call in flight, or a new call). */
  private fetchOnce(client: ProviderClient, nativeId: string, background: BackgroundFetch | undefined, answeredBy: (source: LookupSource) => void): Promise<Observation> {
    const key = `${client.name}:${nativeId}`;
    const known = this.fromLocal(key, answeredBy) ?? this.joinInFlight(key, answeredBy);
    if (known !== undefined) return known;
    if (background !== undefined) return this.loadInTurn(client, nativeId, key, background, answeredBy);
    answeredBy('upstream');
    return this.startCall(client, nativeId, key);
  }

  private joinInFlight(key: string, answeredBy: (source: LookupSource) => void): Promise<Observation> | undefined {
    const pending = this.inFlight.get(key);
    if (pending === undefined) return undefined;
    this.metrics.coalesced.inc();
    answeredBy('coalesced');
    return pending;
  }

  private startCall(client: ProviderClient, nativeId: string, key: string, background?: BackgroundFetch): Promise<Observation> {
    const call = this.load(client, nativeId, key, background).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, call);
    return call;
  }

  /**
   * A background call once the budget gives it a turn. Not in flight while it waits, so a
   * client's lookup meanwhile makes its own call at once; and when one did, its answer
   * serves the poll too.
   */
  private async loadInTurn(client: ProviderClient, nativeId: string, key: string, background: BackgroundFetch, answeredBy: (source: LookupSource) => void): Promise<Observation> {
    const release = await client.budget.background(background.signal);
    try {
      const known = this.fromLocal(key, answeredBy) ?? this.joinInFlight(key, answeredBy);
      if (known !== undefined) return await known;
      answeredBy('upstream');
      return await this.startCall(client, nativeId, key, background);
    } finally {
      release();
    }
  }

  /** Keeps an observation another replica made (a poll loop's message) in this process's layer. */
  learn(client: ProviderClient, nativeId: string, observation: Observation): void {
    const key = `${client.name}:${nativeId}`;
    if (isTerminal(observation.state.status)) {
      const ttlMs = this.terminalTtl(observation.state, observation.fetchedAt);
      if (ttlMs > 0) this.store.terminal.hold(key, observation, ttlMs);
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

  /** Drops the cached answers whose time is up, and the memory they hold with them. */
  purgeStale(): void {
    const { terminal, fresh, notFound, routes } = this.store;
    for (const cache of [terminal, fresh, notFound, routes]) cache.purgeStale();
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

  private load(client: ProviderClient, nativeId: string, key: string, background?: BackgroundFetch): Promise<Observation> {
    // This process's own flight is the one in `inFlight`: nothing more to hold or to learn.
    return this.store.shared ? this.loadShared(client, nativeId, key, background) : this.call(client, nativeId, key, background);
  }

  /** load() in the fleet: the shared layer first, then a call under the fleet's single flight. */
  private async loadShared(client: ProviderClient, nativeId: string, key: string, background?: BackgroundFetch): Promise<Observation> {
    const shared = await this.fromShared(key);
    if (shared !== undefined) return shared;
    try {
      const observation = await this.store.singleFlight(key, this.config.upstreamTimeoutMs, () => this.call(client, nativeId, key, background));
      // Another replica may have made the call: keep its answer here too.
      this.learn(client, nativeId, observation);
      return observation;
    } catch (error) {
      if (isNotFound(error)) this.rememberNotFound(key, error, 'here');
      throw error;
    }
  }

  /** The upstream call itself, run by whichever caller (in the fleet: whichever replica) holds the flight. */
  private async call(client: ProviderClient, nativeId: string, key: string, background?: BackgroundFetch): Promise<Observation> {
    if (this.store.shared) {
      // The lease is ours, but another replica may have stored an answer since we looked.
      const stored = await this.fromShared(key);
      if (stored !== undefined) return stored;
    }
    this.metrics.cacheMiss.inc();
    let state: TaskState;
    try {
      state = await client.fetchTask(nativeId, { background: background !== undefined });
    } catch (error) {
      if (isNotFound(error)) this.rememberNotFound(key, error, 'everywhere');
      throw error;
    }
    if (background !== undefined && !isTerminal(state.status)) {
      // A thin budget polls each watched task less often: its answer says the real cadence
      // (its poll_after_ms and reuse window), and its poll loop asks again then.
      const realCadence = client.budget.backgroundIntervalMs(background.pollers());
      if (realCadence > cadenceOf(client, state)) state = { ...state, cadenceMs: realCadence };
    }
    let observation: Observation = { state, fetchedAt: Date.now() };
    if (this.archive !== undefined) observation = await this.archive.observed(client, nativeId, observation);
    // Not awaited: a shared write is sent before the flight's outcome, so no replica sees one without the other.
    if (isTerminal(state.status)) {
      const ttlMs = this.terminalTtl(state, observation.fetchedAt);
      if (ttlMs > 0) this.keep(this.store.terminal, key, observation, ttlMs);
    } else {
      const reuseMs = this.reuseMs(client, state);
      if (reuseMs > 0) this.keep(this.store.fresh, key, observation, reuseMs);
    }
    return observation;
  }

  /**
   * How long a finished task is served from memory: `cache.terminalTtlMs`, but never past
   * the time its files stop being served (then asking again brings fresh signed URLs).
   */
  private terminalTtl(state: TaskState, fetchedAt: number): number {
    const { terminalTtlMs } = this.config.cache;
    if (state.expires_at === null) return terminalTtlMs;
    const expiresAt = Date.parse(state.expires_at);
    return Number.isNaN(expiresAt) ? terminalTtlMs : Math.min(terminalTtlMs, expiresAt - Math.max(fetchedAt, Date.now()));
  }

  /** A running answer is reused until the cadence has passed; `cache.freshMs` only shortens that. */
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
    else this.share(this.store.notFound.set(key, shared, windowMs));
  }

  /** Keeps an answer here, and in the fleet's layer too when there is one (not awaited). */
  private keep(cache: AnswerCache<Observation>, key: string, observation: Observation, ttlMs: number): void {
    if (this.store.shared) this.share(cache.set(key, observation, ttlMs));
    else cache.hold(key, observation, ttlMs);
  }

  /** A write to the shared caches, not awaited: a lookup never waits on the fleet's copy. */
  private share(write: Promise<void>): void {
    background(write, this.log, 'lookup: writing a shared cache entry failed');
  }

  /** The provider's client by name (a webhook remembers where its task lives). */
  client(name: string): ProviderClient {
    const client = this.clients.get(name);
    if (client === undefined) throw new GatewayError('no_provider_for_task_id', { detail: `No provider is named "${name}".` });
    return client;
  }

  /**
   * An ambiguous id: ask every configured candidate at once (several providers, or several
   * native ids at one provider); the first in order of preference that has the task wins
   * and is remembered; all "not found" is a 404; a failure beats "not found" because we
   * cannot know the task is absent there.
   */
  private async probe(id: string, route: Route): Promise<Located> {
    const candidates = route.candidates
      .map((candidate) => ({ client: this.client(candidate.provider), nativeId: candidate.nativeId }))
      .filter(({ client }) => client.configured);
    if (candidates.length === 0) {
      const first = route.candidates[0]!;
      const client = this.client(first.provider);
      return { client, nativeId: first.nativeId, observation: await this.fetch(client, first.nativeId) };
    }
    const probes: Promise<Probe>[] = candidates.map(({ client, nativeId }) =>
      this.fetch(client, nativeId).then(
        (observation) => ({ found: { client, nativeId, observation } }),
        (error: unknown) => ({ error }),
      ),
    );
    // Boxed: a thrown value may be anything, even undefined.
    let failure: { error: unknown } | undefined;
    for (const pending of probes) {
      const outcome = await pending;
      if ('found' in outcome) {
        const { client, nativeId } = outcome.found;
        this.share(this.store.routes.set(id, `${client.name}:${nativeId}`, this.config.cache.routeMemoTtlMs));
        return outcome.found;
      }
      if (!isNotFound(outcome.error) && failure === undefined) failure = { error: outcome.error };
    }
    if (failure !== undefined) throw failure.error;
    const asked = [...new Set(candidates.map(({ client }) => client.name))];
    throw new GatewayError('task_not_found', {
      provider: asked.length === 1 ? asked[0] : undefined,
      detail: asked.length === 1 ? `${asked[0]} has no task with this id.` : `No provider among ${asked.join(', ')} has this task.`,
    });
  }
}
