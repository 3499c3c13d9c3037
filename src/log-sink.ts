/**
 * Where the production logger writes: stdout, without ever blocking the process.
 *
 * pino's default destination (sonic-boom) flushes synchronously when the process exits,
 * and retries a write that met EAGAIN with `Atomics.wait` for as long as it fails. With a
 * stdout pipe nobody reads (a parent that stopped draining it), the process therefore
 * closed its listener on SIGTERM and then never exited, deaf to further signals.
 * This sink hands each line to `process.stdout` (non-blocking on pipes), drops lines (and
 * counts them) while too much is already queued, survives the reader going away, and is
 * drained for a bounded time before exit.
 */
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Queued log bytes past which new lines are dropped rather than buffered without bound. */
const MAX_QUEUED_BYTES = 1024 * 1024;
const DRAIN_POLL_MS = 10;

export interface LogSinkOptions {
  maxQueuedBytes?: number;
  /** Called for every dropped line (a metric). */
  onDrop?: () => void;
}

export class LogSink {
  private broken = false;
  private readonly maxQueuedBytes: number;

  constructor(
    private readonly stream: Writable = process.stdout,
    private readonly options: LogSinkOptions = {},
  ) {
    this.maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    // EPIPE once the reader is gone: from then on lines are dropped, the process goes on.
    stream.on('error', () => {
      this.broken = true;
    });
  }

  /** pino's destination interface. */
  write(line: string): boolean {
    if (this.broken || this.stream.destroyed || this.stream.writableLength > this.maxQueuedBytes) {
      this.options.onDrop?.();
      return false;
    }
    this.stream.write(line);
    return true;
  }

  /** Resolves once every queued line is written, or after `timeoutMs` whatever is left. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Polled: a stream emits 'drain' only after a write past its high-water mark.
    while (!this.broken && this.stream.writableLength > 0 && Date.now() < deadline) {
      await sleep(DRAIN_POLL_MS, undefined, { ref: false });
    }
  }
}
