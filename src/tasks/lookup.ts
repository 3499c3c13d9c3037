/**
 * Task lookups with the protections that keep a polling storm away from the providers:
 * one upstream call per task at a time (single flight), terminal tasks served from a
 * bounded LRU, non-terminal answers reused for a moment, and ambiguous ids probed at all
 * candidates concurrently with the winner remembered.
 */
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import type { Route } from '../routing.js';
import { isTerminal } from '../../schemas/task.js';

export interface Located {
  client: ProviderClient;
  /** The id as the provider knows it (what goes into its URL). */
  nativeId: string;
  state: TaskState;
}

type Probe = { found: Located } | { error: unknown };

function isNotFound(error: unknown): boolean {
  return error instanceof GatewayError && error.code === 'task_not_found';
}

export class TaskLookup {
  private readonly terminal: LRUCache<string, TaskState>;
  /** Non-terminal answers, each reusable for its own short window. */
  private readonly fresh: LRUCache<string, TaskState>;
  private readonly inFlight = new Map<string, Promise<TaskState>>();
  /** id -> provider name, for ids that matched a rule with several candidates. */
  private readonly routeMemo: LRUCache<string, string>;

  constructor(
    private readonly config: Config,
    private readonly clients: ReadonlyMap<string, ProviderClient>,
    private readonly metrics: Metrics,
  ) {
    this.terminal = new LRUCache({ max: config.cache.terminalMaxEntries, ttl: config.cache.terminalTtlMs });
    this.fresh = new LRUCache({ max: config.cache.terminalMaxEntries, ttl: 1, ttlAutopurge: false });
    this.routeMemo = new LRUCache({ max: config.cache.routeMemoMaxEntries });
  }

  /** Finds the task for a resolved route: at its provider, or at whichever candidate has it. */
  async locate(id: string, route: Route): Promise<Located> {
    if (route.providers.length === 1) {
      const client = this.client(route.providers[0]!);
      return { client, nativeId: route.nativeId, state: await this.fetch(client, route.nativeId) };
    }
    const remembered = this.routeMemo.get(id);
    if (remembered !== undefined) {
      const client = this.client(remembered);
      return { client, nativeId: route.nativeId, state: await this.fetch(client, route.nativeId) };
    }
    return this.probe(id, route);
  }

  /**
   * What locate() would find in the terminal cache, without a promise; undefined when it
   * is not there (the hot path of a finished task, issue 14 §2).
   */
  cachedTerminal(id: string, route: Route): Located | undefined {
    const name = route.providers.length === 1 ? route.providers[0] : this.routeMemo.get(id);
    const client = name === undefined ? undefined : this.clients.get(name);
    const state = client === undefined ? undefined : this.terminal.get(`${client.name}:${route.nativeId}`);
    if (client === undefined || state === undefined) return undefined;
    this.metrics.terminalHit.inc();
    return { client, nativeId: route.nativeId, state };
  }

  /**
   * The task's state at one provider, through the caches and the single-flight map (poll
   * loops come through here too, so their calls are shared with plain GETs).
   */
  fetch(client: ProviderClient, nativeId: string): Promise<TaskState> {
    const key = `${client.name}:${nativeId}`;
    const done = this.terminal.get(key);
    if (done !== undefined) {
      this.metrics.terminalHit.inc();
      return Promise.resolve(done);
    }
    const recent = this.fresh.get(key);
    if (recent !== undefined) {
      this.metrics.freshHit.inc();
      return Promise.resolve(recent);
    }
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      this.metrics.coalesced.inc();
      return pending;
    }
    this.metrics.cacheMiss.inc();
    const call = client.fetchTask(nativeId).then(
      (state) => {
        this.inFlight.delete(key);
        this.remember(key, client, state);
        return state;
      },
      (error: unknown) => {
        this.inFlight.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, call);
    return call;
  }

  /** Drops what is cached about this task, so the next fetch asks its provider. */
  forget(client: ProviderClient, nativeId: string): void {
    const key = `${client.name}:${nativeId}`;
    this.terminal.delete(key);
    this.fresh.delete(key);
  }

  get sizes(): { terminal: number; fresh: number; inFlight: number; routeMemo: number } {
    return { terminal: this.terminal.size, fresh: this.fresh.size, inFlight: this.inFlight.size, routeMemo: this.routeMemo.size };
  }

  private remember(key: string, client: ProviderClient, state: TaskState): void {
    if (isTerminal(state.status)) {
      this.fresh.delete(key);
      this.terminal.set(key, state);
      return;
    }
    const reuseMs = Math.min(this.config.cache.freshMs, state.cadenceMs ?? client.pollIntervalMs);
    if (reuseMs > 0) this.fresh.set(key, state, { ttl: reuseMs });
  }

  private client(name: string): ProviderClient {
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
      return { client: first, nativeId: route.nativeId, state: await this.fetch(first, route.nativeId) };
    }
    const probes: Promise<Probe>[] = candidates.map((client) =>
      this.fetch(client, route.nativeId).then(
        (state) => ({ found: { client, nativeId: route.nativeId, state } }),
        (error: unknown) => ({ error }),
      ),
    );
    let failure: unknown;
    for (const pending of probes) {
      const outcome = await pending;
      if ('found' in outcome) {
        this.routeMemo.set(id, outcome.found.client.name);
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
