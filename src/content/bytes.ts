/**
 * A result file the gateway holds itself (inline media a provider sent in its answer),
 * answered with the same HTTP semantics as a proxied one: `Range` (one range; several, or
 * one that does not parse, get the whole file), `If-Range` against a strong ETag, HEAD,
 * 416 for a range past the end.
 */
import { hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
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

  sendTo(sink: ServerResponse, onClosed: (bytes: number, complete: boolean) => void): void {
    sink.once('close', () => onClosed(sink.writableFinished ? this.bytes.length : 0, sink.writableFinished));
    sink.end(this.bytes);
  }

  discard(): void {}
}

/** The answer for `bytes` of this type, for the client's method, range and validator. */
export function bufferContent(provider: string, bytes: Buffer, contentType: string, fetch: Pick<ContentFetch, 'method' | 'range' | 'ifRange'>): ContentUpstream {
  const etag = `"${hash('sha256', bytes, 'base64url')}"`;
  const headers: Record<string, string> = { 'content-type': contentType, 'accept-ranges': 'bytes', etag };
  // HEAD describes the whole file; a range is honoured only while the validator still matches.
  const wanted = fetch.method === 'GET' && (fetch.ifRange === undefined || fetch.ifRange === etag) ? fetch.range : undefined;
  const range = byteRange(wanted, bytes.length);
  if (range === 'unsatisfiable') {
    throw new GatewayError('invalid_request', {
      status: 416,
      provider,
      detail: 'The requested range is not in the file.',
      headers: { 'content-range': `bytes */${bytes.length}` },
    });
  }
  if (range === undefined) {
    headers['content-length'] = String(bytes.length);
    return { statusCode: 200, headers, body: fetch.method === 'HEAD' ? null : new BufferBody(bytes) };
  }
  const slice = bytes.subarray(range.first, range.last + 1);
  headers['content-length'] = String(slice.length);
  headers['content-range'] = `bytes ${range.first}-${range.last}/${bytes.length}`;
  return { statusCode: 206, headers, body: new BufferBody(slice) };
}
