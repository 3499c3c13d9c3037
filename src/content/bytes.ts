/**
 * A result file the gateway holds itself (inline media a provider sent in its answer, or a
 * file of the result archive), answered with the same HTTP semantics as a proxied one:
 * `Range` (one range; several, or one that does not parse, get the whole file), `If-Range`
 * against a strong ETag (or the Last-Modified date), HEAD, 416 for a range past the end.
 */
import { hash } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { ContentBody, ContentFetch, ContentUpstream } from './proxy.js';

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/;

/** Both ends inclusive, as in `Content-Range`; undefined: answer the whole file; 'unsatisfiable': 416. */
export function byteRange(header: string | undefined, size: number): { first: number; last: number } | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : SINGLE_RANGE.exec(header.trim());
  if (match === null) return undefined;
  const [, start = '', end = ''] = match;
  if (start === '' && end === '') return undefined;
  if (start === '') {
    const suffix = Number(end);
    if (suffix === 0) return 'unsatisfiable';
    return { first: Math.max(0, size - suffix), last: size - 1 };
  }
  const first = Number(start);
  const last = end === '' ? size - 1 : Math.min(Number(end), size - 1);
  if (end !== '' && Number(end) < first) return undefined;
  return first >= size ? 'unsatisfiable' : { first, last };
}

class BufferBody implements ContentBody {
  constructor(private readonly bytes: Buffer) {}

  sendTo(sink: Writable, onClosed: (bytes: number, complete: boolean) => void): void {
    sink.once('close', () => onClosed(sink.writableFinished ? this.bytes.length : 0, sink.writableFinished));
    sink.end(this.bytes);
  }

  discard(): void {}
}

/** A body read from a stream (a stored file), with backpressure; the stream is closed when the sink is. */
class StreamBody implements ContentBody {
  private failure: Error | undefined;

  constructor(private readonly source: Readable) {
    // Until sendTo(), an error has nowhere to go but here; after, it cuts the sink.
    source.on('error', (error) => (this.failure = error));
  }

  sendTo(sink: Writable, onClosed: (bytes: number, complete: boolean) => void): void {
    if (this.failure !== undefined || this.source.destroyed) {
      sink.once('close', () => onClosed(0, false));
      sink.destroy(this.failure ?? new Error('the stored file closed before it was read'));
      return;
    }
    let sent = 0;
    let ended = false;
    this.source.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (!sink.write(chunk)) this.source.pause();
    });
    sink.on('drain', () => this.source.resume());
    this.source.once('end', () => {
      ended = true;
      sink.end();
    });
    this.source.once('error', (error) => sink.destroy(error));
    sink.once('close', () => {
      if (!ended) this.source.destroy();
      onClosed(sent, ended && sink.writableFinished);
    });
  }

  discard(): void {
    this.source.destroy();
  }
}

/** A file the gateway can answer with ranges itself: its size, type and validators. */
export interface HeldFile {
  size: number;
  contentType: string;
  /** Strong. */
  etag: string;
  /** An HTTP date, when known. */
  lastModified?: string;
}

/**
 * The status, headers and byte range of the answer for `file` to the client's method,
 * range and validator (HEAD describes the whole file; a range is honoured only while
 * `If-Range` still matches); a range past the end is a 416.
 */
function plan(provider: string, file: HeldFile, fetch: Pick<ContentFetch, 'method' | 'range' | 'ifRange'>) {
  const headers: Record<string, string> = { 'content-type': file.contentType, 'accept-ranges': 'bytes', etag: file.etag };
  if (file.lastModified !== undefined) headers['last-modified'] = file.lastModified;
  const unchanged = fetch.ifRange === undefined || fetch.ifRange === file.etag || (file.lastModified !== undefined && fetch.ifRange === file.lastModified);
  const range = byteRange(fetch.method === 'GET' && unchanged ? fetch.range : undefined, file.size);
  if (range === 'unsatisfiable') {
    throw new GatewayError('invalid_request', {
      status: 416,
      provider,
      detail: 'The requested range is not in the file.',
      headers: { 'content-range': `bytes */${file.size}` },
    });
  }
  if (range === undefined) {
    headers['content-length'] = String(file.size);
    return { statusCode: 200 as const, headers, range };
  }
  headers['content-length'] = String(range.last - range.first + 1);
  headers['content-range'] = `bytes ${range.first}-${range.last}/${file.size}`;
  return { statusCode: 206 as const, headers, range };
}

/** The answer for `bytes` of this type, for the client's method, range and validator. */
export function bufferContent(provider: string, bytes: Buffer, contentType: string, fetch: Pick<ContentFetch, 'method' | 'range' | 'ifRange'>): ContentUpstream {
  const etag = `"${hash('sha256', bytes, 'base64url')}"`;
  const { statusCode, headers, range } = plan(provider, { size: bytes.length, contentType, etag }, fetch);
  if (fetch.method === 'HEAD') return { statusCode, headers, body: null };
  return { statusCode, headers, body: new BufferBody(range === undefined ? bytes : bytes.subarray(range.first, range.last + 1)) };
}

/**
 * The answer for a stored file: only the bytes the answer needs are opened (`open` gets
 * the range, so a store that can read a range reads no more), and nothing for HEAD.
 */
export async function storedContent(
  provider: string,
  file: HeldFile,
  fetch: Pick<ContentFetch, 'method' | 'range' | 'ifRange'>,
  open: (range: { first: number; last: number } | undefined) => Promise<Readable>,
): Promise<ContentUpstream> {
  const { statusCode, headers, range } = plan(provider, file, fetch);
  if (fetch.method === 'HEAD') return { statusCode, headers, body: null };
  // An empty file has no range to ask for.
  const body = file.size === 0 ? Readable.from([]) : await open(range);
  return { statusCode, headers, body: new StreamBody(body) };
}
