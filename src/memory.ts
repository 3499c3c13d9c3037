/**
 * Memory back to its baseline once a burst of held work ends (streams, waits
 * and watches; docs/operations.md, "Budgets and quotas").
 *
 * Where the memory stays: not in the gateway's structures, which are emptied as each wait,
 * stream and watch ends (test/hardening/memory.test.ts). 4,000 SSE streams on running tasks
 * took a gateway from 139 to 362 MB RSS; after every client left it stayed at 366 MB for
 * minutes, with 130 MB of heap used although a collection leaves 38 MB: an idle process
 * allocates too little for V8 to collect, and a plain collection shrinks the heap (250 to
 * 45 MB committed) without giving the pages back to the system. Only V8's memory-reducing
 * collection does that, which it runs on its own only under allocation. So once what
 * clients hold falls from a peak of at least `minimumPeak` to a tenth of it, and stays
 * there for `settleMs`, this runs that collection once: 384 → 178 MB RSS in the run above
 * (Node 24: a gateway process holding 4,000 streams, read from its `/metrics`). What remains is
 * the allocator's own (freed sockets' buffers) and the bounded caches.
 *
 * The collection is V8's `gc()`, which Node exposes only behind `--expose-gc`: the flag is
 * set at run time and the function taken from a new context, here and nowhere else.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/** V8's collector; undefined where the runtime will not expose it. */
function exposedCollector(): Collect | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as Collect;
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    return typeof collect === 'function' ? (collect as Collect) : undefined;
  } catch {
    return undefined;
  }
}

/** A memory-reducing collection: everything unreachable, and the freed pages given back. */
export function collectAndShrink(): boolean {
  const collect = exposedCollector();
  if (collect === undefined) return false;
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}

export interface MemoryReclaimOptions {
  /** What clients hold right now: waits, streams, result transfers. */
  held: () => number;
  /** A burst smaller than this is not worth a collection. */
  minimumPeak?: number;
  /** How long what is held must stay low before the collection. */
  settleMs?: number;
  /** How often `held` is read. */
  sampleMs?: number;
  /** Runs just before the collection: what can be dropped first (expired cache entries). */
  beforeCollect?: () => void;
  /** Hears each collection made. */
  onReclaim?: () => void;
  collect?: () => boolean;
}

export class MemoryReclaim {
  private peak = 0;
  private lowSince: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly minimumPeak: number;
  private readonly settleMs: number;

  constructor(private readonly options: MemoryReclaimOptions) {
    this.minimumPeak = options.minimumPeak ?? 1000;
    this.settleMs = options.settleMs ?? 5000;
    this.timer = setInterval(() => this.sample(), options.sampleMs ?? 1000);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at what is held: the peak so far, or a fall from it that lasted long enough. */
  sample(now = Date.now()): void {
    const held = this.options.held();
    if (held > this.peak) this.peak = held;
    if (this.peak < this.minimumPeak || held > this.peak / 10) {
      this.lowSince = undefined;
      return;
    }
    this.lowSince ??= now;
    if (now - this.lowSince < this.settleMs) return;
    this.peak = held;
    this.lowSince = undefined;
    this.options.beforeCollect?.();
    if ((this.options.collect ?? collectAndShrink)()) this.options.onReclaim?.();
  }
}
