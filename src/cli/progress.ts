/**
 * Progress on stderr. On a terminal: one line redrawn in place (`\r`, padded over what it
 * replaces, never wider than the terminal, so it never wraps), ended with a newline so
 * what follows starts on a clean line. Elsewhere (a pipe, a log file, CI): plain lines, one
 * per change. A few lines of our own: a library would bring more than it saves here.
 */
import { stripVTControlCharacters } from 'node:util';
import type { Task } from '../../schemas/task.js';
import { formatBytes, formatDuration, STATUS_STYLE, type Paint } from './format.js';

export interface Screen {
  stream: NodeJS.WritableStream & { columns?: number };
  /** A terminal: draw the live line. */
  interactive: boolean;
  paint: Paint;
}

const FALLBACK_COLUMNS = 80;
const BAR_WIDTH = 24;
/** Redraws at most this often while bytes stream in; a terminal cannot show more. */
const REDRAW_EVERY_MS = 100;
const TICK_MS = 1000;

class LiveLine {
  private drawnWidth = 0;

  constructor(private readonly screen: Screen) {}

  draw(text: string): void {
    const columns = this.screen.stream.columns !== undefined && this.screen.stream.columns > 0 ? this.screen.stream.columns : FALLBACK_COLUMNS;
    let shown = text;
    let width = stripVTControlCharacters(text).length;
    // The last column stays free: writing into it makes some terminals wrap at once.
    if (width > columns - 1) {
      shown = stripVTControlCharacters(text).slice(0, columns - 1);
      width = shown.length;
    }
    this.screen.stream.write(`\r${shown}${' '.repeat(Math.max(0, this.drawnWidth - width))}`);
    this.drawnWidth = width;
  }

  end(): void {
    if (this.drawnWidth > 0) this.screen.stream.write('\n');
    this.drawnWidth = 0;
  }
}

/** `██████░░░░░░`; all light when the fraction is unknown. */
function bar(fraction: number | undefined, paint: Paint, style: Parameters<Paint>[0]): string {
  const filled = fraction === undefined ? 0 : Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return paint(style, '█'.repeat(filled)) + paint('dim', '░'.repeat(BAR_WIDTH - filled));
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '   -' : `${String(Math.round(value)).padStart(3)}%`;
}

/** What `wait` shows while it waits. */
export interface WaitView {
  show(task: Task): void;
  /** A transient error being retried: shown, not fatal. */
  retrying(code: string, delayMs: number): void;
  end(): void;
}

class WaitBar implements WaitView {
  private readonly line: LiveLine;
  private readonly started = Date.now();
  private task: Task | undefined;
  private note = '';
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly screen: Screen) {
    this.line = new LiveLine(screen);
    // The elapsed time keeps moving while a long-poll is held.
    this.ticker = setInterval(() => this.render(), TICK_MS).unref();
    this.render();
  }

  show(task: Task): void {
    this.task = task;
    this.note = '';
    this.render();
  }

  retrying(code: string, delayMs: number): void {
    this.note = `  ${this.screen.paint('yellow', `${code}, retrying in ${formatDuration(delayMs + 999)}`)}`;
    this.render();
  }

  end(): void {
    clearInterval(this.ticker);
    this.render();
    this.line.end();
  }

  private render(): void {
    const { paint } = this.screen;
    const task = this.task;
    const status = task === undefined ? paint('dim', 'asking') : paint(STATUS_STYLE[task.status], task.status);
    const fraction = task?.progress === null || task?.progress === undefined ? undefined : task.progress / 100;
    const style = task === undefined ? 'dim' : STATUS_STYLE[task.status];
    this.line.draw(`${bar(fraction, paint, style)} ${percent(task?.progress)}  ${status}  ${formatDuration(Date.now() - this.started)}${this.note}`);
  }
}

class WaitLines implements WaitView {
  private readonly started = Date.now();
  private last = '';

  constructor(
    private readonly screen: Screen,
    private readonly id: string,
  ) {}

  show(task: Task): void {
    const state = `${task.status}${task.progress === null ? '' : ` ${task.progress}%`}`;
    if (state === this.last) return;
    this.last = state;
    this.screen.stream.write(`${this.id}: ${state} (${formatDuration(Date.now() - this.started)})\n`);
  }

  retrying(code: string, delayMs: number): void {
    this.screen.stream.write(`${this.id}: ${code}, retrying in ${formatDuration(delayMs + 999)}\n`);
  }

  end(): void {}
}

export function waitView(screen: Screen, id: string): WaitView {
  return screen.interactive ? new WaitBar(screen) : new WaitLines(screen, id);
}

/** What `download` shows while bytes arrive. */
export interface TransferView {
  /** `offset`: bytes already on disk from an earlier attempt; `total`: the file's size when known. */
  start(file: string, offset: number, total: number | undefined): void;
  advance(bytes: number): void;
  /** Before a retry or at the end: the live line is closed so a message can follow. */
  pause(): void;
  end(file: string): void;
}

/** Bytes per second over the last few seconds, so a stall shows as a falling rate. */
class RateMeter {
  private samples: Array<{ at: number; bytes: number }> = [];

  record(bytes: number, at = Date.now()): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > 3000) this.samples.shift();
  }

  perSecond(at = Date.now()): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || at - first.at < 200) return 0;
    return ((last.bytes - first.bytes) * 1000) / (at - first.at);
  }
}

class TransferBar implements TransferView {
  private line: LiveLine;
  private received = 0;
  private total: number | undefined;
  private meter = new RateMeter();
  private lastDraw = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly screen: Screen) {
    this.line = new LiveLine(screen);
  }

  start(_file: string, offset: number, total: number | undefined): void {
    this.received = offset;
    this.total = total;
    this.meter = new RateMeter();
    this.meter.record(offset);
    this.ticker ??= setInterval(() => this.render(), TICK_MS).unref();
    this.render();
  }

  advance(bytes: number): void {
    this.received += bytes;
    this.meter.record(this.received);
    if (Date.now() - this.lastDraw >= REDRAW_EVERY_MS) this.render();
  }

  pause(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.render();
    this.line.end();
  }

  end(file: string): void {
    this.pause();
    this.screen.stream.write(`saved ${file}\n`);
  }

  private render(): void {
    this.lastDraw = Date.now();
    const { paint } = this.screen;
    const fraction = this.total === undefined || this.total === 0 ? undefined : this.received / this.total;
    const size = this.total === undefined ? formatBytes(this.received) : `${formatBytes(this.received)} / ${formatBytes(this.total)}`;
    const rate = `${formatBytes(Math.round(this.meter.perSecond()))}/s`;
    this.line.draw(`${bar(fraction, paint, 'cyan')} ${percent(fraction === undefined ? undefined : fraction * 100)}  ${size}  ${rate}`);
  }
}

class TransferLines implements TransferView {
  private received = 0;
  private started = Date.now();

  constructor(private readonly screen: Screen) {}

  start(file: string, offset: number, total: number | undefined): void {
    this.received = offset;
    this.started = Date.now();
    const size = total === undefined ? '' : ` (${formatBytes(total)})`;
    this.screen.stream.write(offset > 0 ? `resuming ${file} at ${formatBytes(offset)}${size}\n` : `downloading to ${file}${size}\n`);
  }

  advance(bytes: number): void {
    this.received += bytes;
  }

  pause(): void {}

  end(file: string): void {
    this.screen.stream.write(`saved ${file} (${formatBytes(this.received)} in ${formatDuration(Date.now() - this.started)})\n`);
  }
}

export function transferView(screen: Screen): TransferView {
  return screen.interactive ? new TransferBar(screen) : new TransferLines(screen);
}
