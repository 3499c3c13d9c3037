/**
 * One HTTP exchange's undici dispatch handler: the whole answer gathered into one string,
 * under a size cap (declared and streamed) and one deadline for headers and body together.
 */
import type { Dispatcher } from 'undici';
import type { UpstreamResponse } from './types.js';

/** The code of the error an attempt fails with when the lookup's deadline passes. */
export class DeadlineExceeded extends Error {
  readonly code = 'TASKGATE_DEADLINE';
}

function oversizedError(message: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
  return error;
}

/**
 * An undici dispatch handler that settles one promise with the whole response, or an
 * error. Its own timer holds the attempt to `deadlineMs` from dispatch, headers and body
 * together: undici's headers/body timeouts tick coarsely (~0.5 s) and the body timeout
 * only bounds the gap between chunks, so a slow drip or a hang needs this.
 */
export class BodyCollector implements Dispatcher.DispatchHandler {
  private statusCode = 0;
  private headers: UpstreamResponse['headers'] = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;

  constructor(
    private readonly maxBodyBytes: number,
    deadlineMs: number,
    private readonly resolve: (response: UpstreamResponse) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.timer = setTimeout(() => this.expire(), deadlineMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Still queued in the pool when the deadline passed: never send it.
    if (this.settled) controller.abort(new DeadlineExceeded('deadline'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    this.statusCode = statusCode;
    this.headers = headers;
    if (Number(headers['content-length']) > this.maxBodyBytes) controller.abort(oversizedError('declared body too large'));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBodyBytes) {
      controller.abort(oversizedError('body too large'));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body: decodeUtf8(this.chunks, this.size) });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(error);
  }

  private expire(): void {
    if (this.controller !== undefined) {
      this.controller.abort(new DeadlineExceeded('deadline'));
      return;
    }
    this.settled = true;
    this.reject(new DeadlineExceeded('deadline'));
  }
}

/** UTF-8 text of the chunks without a leading byte order mark, as undici's `body.text()` gives it. */
function decodeUtf8(chunks: Buffer[], length: number): string {
  if (chunks.length === 0 || length === 0) return '';
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  const start = buffer.length > 2 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? 3 : 0;
  return buffer.toString('utf8', start);
}
