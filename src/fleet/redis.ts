/**
 * The fleet's connection to Redis: a command connection, a dedicated subscriber
 * connection, and a health state machine that keeps a slow or dead Redis from holding up
 * a request. Every command has a short timeout and there is no offline queue; after one
 * failure Redis is *down*: calls answer UNAVAILABLE at once (callers fall back to their
 * in-process behaviour) while a background PING probe, backing off to about a second,
 * waits for it to return. Then the subscriptions are put back (src/fleet/redis-channels.ts)
 * and Redis is *up* again.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { background, STDERR_LOG, type BackgroundLog } from '../background.js';
import type { LuaScript, NamedScript } from './lua.js';
import { RedisChannels, type MessageListener, type Subscription } from './redis-channels.js';
import { isReplyError, TIMED_OUT, withinDeadline } from './redis-deadline.js';

export type { MessageListener, Subscription } from './redis-channels.js';

/** What a Redis call answers instead of throwing when Redis is down, slow or refused it. */
export const UNAVAILABLE: unique symbol = Symbol('redis unavailable');
export type Unavailable = typeof UNAVAILABLE;

declare const keyBrand: unique symbol;
declare const channelBrand: unique symbol;
/** A key under the fleet prefix; only `FleetRedis.key` makes one, so no key escapes the prefix. */
export type RedisKey = string & { readonly [keyBrand]: true };
/** A pub/sub channel under the fleet prefix (ioredis `keyPrefix` would not prefix channels). */
export type RedisChannel = string & { readonly [channelBrand]: true };

/** Redis PX wants a positive whole number of milliseconds. */
export function toPx(milliseconds: number): number {
  return Math.max(1, Math.ceil(milliseconds));
}

export interface RunOptions {
  /** Replaces the command deadline, for work that is not on a request's hot path and must not give up early. */
  timeoutMs?: number;
  /**
   * Throw Redis's own refusals (OOM, READONLY, a script's error) instead of answering
   * UNAVAILABLE, for a caller that tells them apart from an outage.
   */
  rejectReplyErrors?: boolean;
}

type ScriptCommand = (...args: Array<string | number>) => Promise<unknown>;

export interface FleetRedisOptions {
  /** `redis://…` or `rediss://…` (TLS). */
  url: string;
  /** Namespace of every key and channel, e.g. `taskgate:`. */
  prefix: string;
  /** Longest wait for one command before Redis counts as down. */
  commandTimeoutMs?: number;
  /** How long `create` waits for the first connection before reporting Redis down. */
  connectTimeoutMs?: number;
  /** Ceiling of the probe's and the reconnect's backoff. */
  probeMaxIntervalMs?: number;
  /** Called with the first known state, then once per transition (never after `close`). */
  onHealthChange?: (up: boolean) => void;
  /** Where the fleet's background work (lease releases, publishes, probes) reports a failure. */
  log?: BackgroundLog;
}

type Health = 'starting' | 'up' | 'down' | 'closed';

const FIRST_PROBE_DELAY_MS = 50;

/** The major number of a `redis_version` (7 of `7.0.15`). */
export function majorVersion(version: string): number {
  return Number(version.split('.')[0]);
}

/** A script without its `#!lua` flags line, for a server older than Redis 7. */
export function withoutFlags(lua: string): string {
  return lua.startsWith('#!') ? lua.slice(lua.indexOf('\n') + 1) : lua;
}

export class FleetRedis {
  readonly prefix: string;
  /** The fleet parts' logger for work nobody awaits (src/background.ts). */
  readonly log: BackgroundLog;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly probeMaxIntervalMs: number;
  private readonly commandTimeoutMs: number;
  private readonly onHealthChange: ((up: boolean) => void) | undefined;
  private readonly healthListeners = new Set<(up: boolean) => void>();
  /** Scripts registered on the command connection (ioredis keeps them across reconnects). */
  private readonly definedScripts = new Set<string>();
  /**
   * Whether the server reads Redis 7 script flags (`#!lua flags=…`). Redis 6.2 refuses a
   * script that has them: there, scripts are registered without that first line (and
   * lose only the flags' guarantee that no write passes `maxmemory`).
   */
  private scriptFlags = true;
  private health: Health = 'starting';
  private probeDelayMs = FIRST_PROBE_DELAY_MS;
  private probeTimer: NodeJS.Timeout | undefined;
  private startupTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private confirming = false;
  private readonly channels: RedisChannels;
  private settle: (() => void) | undefined;
  private readonly settled: Promise<void>;

  /** Connects and resolves once Redis is up, or reported down after `connectTimeoutMs`. Never rejects. */
  static async create(options: FleetRedisOptions): Promise<FleetRedis> {
    // Loaded here, not at start-up: a gateway without REDIS_URL never evaluates ioredis (BENCHMARKS.md, "Start-up").
    const { Redis: RedisClient } = await import('ioredis');
    const redis = new FleetRedis(options, RedisClient);
    await redis.settled;
    const version = await redis.serverVersion();
    if (version !== undefined && majorVersion(version) < 7) redis.scriptFlags = false;
    return redis;
  }

  private constructor(options: FleetRedisOptions, RedisClient: typeof Redis) {
    this.prefix = options.prefix;
    this.log = options.log ?? STDERR_LOG;
    this.probeMaxIntervalMs = options.probeMaxIntervalMs ?? 1000;
    this.onHealthChange = options.onHealthChange;
    const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 50;
    const connectionOptions: RedisOptions = {
      // Only a backstop that clears ioredis's queue: withinDeadline gives up on a command long before.
      commandTimeout: Math.max(1000, this.commandTimeoutMs * 10),
      connectTimeout: connectTimeoutMs,
      enableOfflineQueue: false,
      // Commands in flight when the socket drops fail at once instead of waiting for a reconnect.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Subscriptions are put back by the probe, from the channels that still have listeners.
      autoResubscribe: false,
      retryStrategy: (attempt) => Math.min(FIRST_PROBE_DELAY_MS * 2 ** attempt, this.probeMaxIntervalMs),
    };
    this.settled = new Promise((resolve) => (this.settle = resolve));
    this.commands = new RedisClient(options.url, connectionOptions);
    this.subscriber = new RedisClient(options.url, connectionOptions);
    this.channels = new RedisChannels(this.subscriber, {
      up: () => this.up,
      commandTimeoutMs: this.commandTimeoutMs,
      timedOut: () => this.confirmDown(),
      failed: () => this.markDown(),
    }, this.log);
    for (const connection of [this.commands, this.subscriber]) {
      // Without a listener ioredis would throw connection errors at the process; health covers them.
      connection.on('error', () => {});
      connection.on('close', () => {
        if (connection === this.subscriber) this.channels.disconnected();
        if (this.health === 'up') this.markDown();
      });
      connection.on('ready', () => {
        if (this.health === 'starting' || this.health === 'down') this.probeSoon(0);
      });
    }
    this.subscriber.on('message', (channel: string, message: string) => this.channels.dispatch(channel, message));
    this.startupTimer = setTimeout(() => {
      if (this.health === 'starting') this.markDown();
    }, connectTimeoutMs);
    this.startupTimer.unref();
  }

  get up(): boolean {
    return this.health === 'up';
  }

  /** Distinct channels this process listens on (one Redis SUBSCRIBE each, however many listeners). */
  get subscriptionCount(): number {
    return this.channels.count;
  }

  key(...parts: string[]): RedisKey {
    return (this.prefix + parts.join(':')) as RedisKey;
  }

  channel(...parts: string[]): RedisChannel {
    return (this.prefix + parts.join(':')) as RedisChannel;
  }

  /**
   * Runs one command (keep it to one: the timeout is per command) on the command
   * connection. Answers UNAVAILABLE without a round trip while Redis is down, and
   * UNAVAILABLE when the command fails; never throws unless `rejectReplyErrors` asks for
   * Redis's refusals.
   */
  async run<T>(command: (client: Redis) => Promise<T>, options: RunOptions = {}): Promise<T | Unavailable> {
    if (this.health !== 'up') return UNAVAILABLE;
    try {
      const reply = await withinDeadline(command(this.commands), options.timeoutMs ?? this.commandTimeoutMs);
      if (reply !== TIMED_OUT) return reply;
      this.confirmDown();
    } catch (error) {
      if (!isReplyError(error)) this.markDown();
      else if (options.rejectReplyErrors === true) throw error;
    }
    return UNAVAILABLE;
  }

  /** Runs a script of src/…/scripts with its argument table (src/fleet/lua.ts), like `run`. */
  runScript<Args extends object | undefined>(script: LuaScript<Args>, keys: readonly RedisKey[], args: Args, options?: RunOptions): Promise<unknown> {
    return this.evalScript(script, keys, script.argv(args), options);
  }

  /**
   * Runs a script with positional arguments (a library's own script), registering it on
   * the command connection the first time: EVALSHA from then on.
   */
  evalScript(script: NamedScript, keys: readonly string[], argv: readonly string[], options?: RunOptions): Promise<unknown> {
    return this.run((client) => {
      if (!this.definedScripts.has(script.name)) {
        client.defineCommand(script.name, { lua: this.scriptFlags ? script.lua : withoutFlags(script.lua) });
        this.definedScripts.add(script.name);
      }
      // Without numberOfKeys in the definition, the key count comes first.
      const command = (client as unknown as Record<string, ScriptCommand>)[script.name]!;
      return command.call(client, keys.length, ...keys, ...argv);
    }, options);
  }

  /** Whether scripts are registered with their Redis 7 flags (false on an older server). */
  get usesScriptFlags(): boolean {
    return this.scriptFlags;
  }

  /** The server's version (`redis_version`, which Valkey reports too), or undefined when it cannot be read. */
  async serverVersion(): Promise<string | undefined> {
    const info = await this.run((client) => client.info('server'), { timeoutMs: 1000 });
    if (info === UNAVAILABLE) return undefined;
    return /^redis_version:(\S+)/m.exec(info)?.[1];
  }

  /** Called on every change of health after this (never after `close`); answers the way to stop. */
  addHealthListener(listener: (up: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /** True when Redis took the message (whether anyone listens is not known here). */
  async publish(channel: RedisChannel, message: string): Promise<boolean> {
    const outcome = await this.run((client) => client.publish(channel, message));
    return outcome !== UNAVAILABLE;
  }

  subscribe(channel: RedisChannel, listener: MessageListener): Subscription {
    return this.channels.subscribe(channel, listener);
  }

  /** Disconnects both connections at once (no QUIT: a stopped Redis would never answer it). */
  close(): void {
    if (this.health === 'closed') return;
    this.health = 'closed';
    clearTimeout(this.probeTimer);
    clearTimeout(this.startupTimer);
    this.channels.clear();
    this.commands.disconnect();
    this.subscriber.disconnect();
    this.settle?.();
  }

  private report(up: boolean): void {
    this.settle?.();
    this.settle = undefined;
    for (const listener of [this.onHealthChange, ...this.healthListeners]) {
      try {
        listener?.(up);
      } catch {
        // The callbacks log and set gauges; their failure must not break the state machine.
      }
    }
  }

  /**
   * A command timed out. One PING confirms that Redis is silent before every request is
   * sent to the fallback (one slow command is not an outage); meanwhile each request still
   * waits at most its own command deadline.
   */
  private confirmDown(): void {
    if (this.confirming || this.health !== 'up') return;
    this.confirming = true;
    // Longer than one command's deadline: on a starved machine Redis itself may miss one, and a flap costs more than a wait.
    withinDeadline(this.commands.ping(), this.commandTimeoutMs * 3).then(
      (reply) => {
        this.confirming = false;
        if (reply === TIMED_OUT) this.markDown();
      },
      (error: unknown) => {
        this.confirming = false;
        if (!isReplyError(error)) this.markDown();
      },
    );
  }

  private markDown(): void {
    if (this.health === 'down' || this.health === 'closed') return;
    this.health = 'down';
    this.report(false);
    this.probeDelayMs = FIRST_PROBE_DELAY_MS;
    this.probeSoon(this.probeDelayMs);
  }

  private markUp(): void {
    clearTimeout(this.startupTimer);
    this.health = 'up';
    this.probeDelayMs = FIRST_PROBE_DELAY_MS;
    this.channels.resync();
    this.report(true);
  }

  private probeSoon(delayMs: number): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => background(this.probe(), this.log, 'fleet: probing Redis failed'), delayMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.probing || this.health === 'up' || this.health === 'closed') return;
    this.probing = true;
    try {
      const healthy = await this.check();
      // Read again: close() or an event may have moved the state while the probe waited.
      const health = this.health as Health;
      if (health === 'closed' || health === 'up') return;
      if (healthy) {
        this.markUp();
        return;
      }
      if (health === 'down') {
        this.probeDelayMs = Math.min(this.probeDelayMs * 2, this.probeMaxIntervalMs);
        this.probeSoon(this.probeDelayMs);
      }
    } finally {
      this.probing = false;
    }
  }

  /** Both connections answer PING, and the subscriber holds exactly the channels with listeners. */
  private async check(): Promise<boolean> {
    if (this.commands.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    try {
      await Promise.all([this.commands.ping(), this.subscriber.ping()]);
      await this.channels.reconcile();
      return true;
    } catch {
      return false;
    }
  }
}
