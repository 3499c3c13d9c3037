/**
 * Whether Redis keeps what the fleet stores in it (webhooks) through its own restart. At
 * boot: its persistence settings, where the server lets CONFIG GET be asked (managed
 * services often do not). While running: a marker key with a value of its own, read and
 * renewed every interval and whenever Redis comes back; a value that is gone or changed
 * means Redis lost its data (it restarted without persistence, was flushed, or evicted
 * keys), which no setting can tell after the fact.
 */
import { background } from '../background.js';
import { randomUUID } from 'node:crypto';
import { luaScript } from './lua.js';
import { UNAVAILABLE, type FleetRedis } from './redis.js';

export type Persistence =
  | { kind: 'append-only' }
  | { kind: 'snapshots'; save: string }
  | { kind: 'none' }
  /** CONFIG is not allowed, or Redis did not answer. */
  | { kind: 'unknown' };

/** Redis's persistence settings: AOF, RDB snapshots only (what was written since the last one is lost), or none. */
export async function readPersistence(redis: FleetRedis): Promise<Persistence> {
  const reply = await redis.run((client) => client.config('GET', 'appendonly'), { timeoutMs: 1000 });
  const save = await redis.run((client) => client.config('GET', 'save'), { timeoutMs: 1000 });
  if (reply === UNAVAILABLE || !Array.isArray(reply) || save === UNAVAILABLE || !Array.isArray(save)) return { kind: 'unknown' };
  if (reply[1] === 'yes') return { kind: 'append-only' };
  const schedule = typeof save[1] === 'string' ? save[1].trim() : '';
  return schedule === '' ? { kind: 'none' } : { kind: 'snapshots', save: schedule };
}

const MARKER = luaScript<{ candidate: string; ttlMs: number }>('fleet', 'data-marker');

export interface DataMarkerOptions {
  /** How often the marker is read (and renewed) while Redis is up. */
  intervalMs: number;
  /** How long the marker lives unless renewed: longer than anything it vouches for. */
  ttlMs: number;
  /** Redis lost its data since the last look. */
  onLost: () => void;
}

export class DataMarker {
  /** The marker's value as last seen; undefined before the first look (nothing to compare yet). */
  private seen: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopHealth: (() => void) | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly redis: FleetRedis,
    private readonly options: DataMarkerOptions,
  ) {}

  start(): void {
    this.checkInBackground();
    this.timer = setInterval(() => this.checkInBackground(), this.options.intervalMs);
    this.timer.unref();
    // A restart of Redis is seen by the connection first: look at once when it is back.
    this.stopHealth = this.redis.addHealthListener((up) => {
      if (up) this.checkInBackground();
    });
  }

  private checkInBackground(): void {
    background(this.check(), this.redis.log, 'fleet: reading the data marker failed');
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopHealth?.();
  }

  /** One look; concurrent calls share it. */
  check(): Promise<void> {
    this.checking ??= this.look().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async look(): Promise<void> {
    const value = await this.redis.runScript(MARKER, [this.redis.key('fleet', 'data-marker')], { candidate: randomUUID(), ttlMs: this.options.ttlMs });
    // Redis down, or refusing writes: nothing is known either way.
    if (typeof value !== 'string') return;
    const lost = this.seen !== undefined && value !== this.seen;
    this.seen = value;
    if (lost) this.options.onLost();
  }
}
