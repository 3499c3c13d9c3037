/**
 * Per-client caps on what a client holds at once (docs/operations.md): watched tasks (waits, SSE streams and active webhooks together) and `/content`
 * streams. A client is its key, or its address on an open gateway (and for a browser
 * link), as for the rate limit. Past its cap a client gets 429 `quota_exceeded`, naming
 * the cap, with `Retry-After` when one of its places has a known end (a wait's deadline).
 * Counted per replica; a client's entry is gone once it holds nothing.
 */
import { GatewayError } from './errors.js';

export interface QuotaOptions {
  /** Places one client may hold at once. */
  perClient: number;
  /** What a place is, in the refusal's detail: "watched tasks", "/content streams". */
  what: string;
  /** The setting that sets the cap, named in the detail. */
  setting: string;
  /** Hears the number of places held in all at every change. */
  onChange?: (total: number) => void;
  now?: () => number;
}

export interface HoldOptions {
  /** Epoch ms by which the place is given back at the latest (a wait's deadline). */
  endsAt?: number;
}

/** Gives the place back; calling it again does nothing. */
export type Release = () => void;

interface Place {
  endsAt: number | undefined;
}

export class ClientQuota {
  private readonly holders = new Map<string, Set<Place>>();
  private held = 0;
  private readonly now: () => number;

  constructor(private readonly options: QuotaOptions) {
    this.now = options.now ?? Date.now;
  }

  get perClient(): number {
    return this.options.perClient;
  }

  /** Places held now, by every client. */
  get total(): number {
    return this.held;
  }

  /** Clients holding at least one place (the entries in memory). */
  get clients(): number {
    return this.holders.size;
  }

  heldBy(client: string): number {
    return this.holders.get(client)?.size ?? 0;
  }

  /**
   * Takes a place for `client` until the returned function is called; throws 429
   * quota_exceeded when the client already holds its cap (`elsewhere`: places of the same
   * cap it holds outside this count, e.g. its active webhooks).
   */
  take(client: string, options: HoldOptions = {}, elsewhere = 0): Release {
    let places = this.holders.get(client);
    if ((places?.size ?? 0) + elsewhere >= this.options.perClient) throw this.refusal(places);
    if (places === undefined) {
      places = new Set();
      this.holders.set(client, places);
    }
    const place: Place = { endsAt: options.endsAt };
    places.add(place);
    this.changed(1);
    const held = places;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.delete(place);
      if (held.size === 0 && this.holders.get(client) === held) this.holders.delete(client);
      this.changed(-1);
    };
  }

  /** Throws 429 quota_exceeded unless `client` has room for one more place. */
  ensureRoom(client: string, elsewhere = 0): void {
    const places = this.holders.get(client);
    if ((places?.size ?? 0) + elsewhere >= this.options.perClient) throw this.refusal(places);
  }

  private changed(delta: number): void {
    this.held += delta;
    this.options.onChange?.(this.held);
  }

  private refusal(places: ReadonlySet<Place> | undefined): GatewayError {
    const { perClient, what, setting } = this.options;
    // The soonest known end among this client's places: when a retry can succeed.
    let soonest: number | undefined;
    for (const place of places ?? []) {
      if (place.endsAt !== undefined && (soonest === undefined || place.endsAt < soonest)) soonest = place.endsAt;
    }
    const retryAfter = soonest === undefined ? undefined : Math.max(1, Math.ceil((soonest - this.now()) / 1000));
    const when = retryAfter === undefined ? 'close one first' : `one ends within ${retryAfter} s`;
    return new GatewayError('quota_exceeded', {
      retryAfter,
      detail: `This client already holds ${perClient} ${what} at once, the most one client may (${setting}); ${when}.`,
    });
  }
}

/**
 * Another holder of watched tasks whose places count toward the same cap: active webhooks,
 * which a webhook store counts per client key. It joins with one call,
 * `WatchQuota.addSource`, and asks `WatchQuota.ensureRoom` before it registers one more.
 */
export interface WatchSource {
  /** Watched tasks `client` holds there now. */
  heldBy(client: string): number | Promise<number>;
}

/**
 * `limits.watchesPerClient`: the watched tasks a client holds at once, its waits and SSE
 * streams (held here) and whatever the joined sources hold for it (active webhooks).
 */
export class WatchQuota {
  private readonly sources: WatchSource[] = [];

  constructor(private readonly local: ClientQuota) {}

  /** Counts another kind of watched tasks (active webhooks) toward each client's cap. */
  addSource(source: WatchSource): void {
    this.sources.push(source);
  }

  /** A place for a wait or an SSE stream, held until released; 429 quota_exceeded at the cap. */
  async hold(client: string, options: HoldOptions = {}): Promise<Release> {
    return this.local.take(client, options, await this.elsewhere(client));
  }

  /** 429 quota_exceeded unless `client` has room for one more watched task (a source asks before it adds one). */
  async ensureRoom(client: string): Promise<void> {
    this.local.ensureRoom(client, await this.elsewhere(client));
  }

  private async elsewhere(client: string): Promise<number> {
    if (this.sources.length === 0) return 0;
    const counts = await Promise.all(this.sources.map((source) => Promise.resolve(source.heldBy(client))));
    return counts.reduce((sum, count) => sum + count, 0);
  }
}
