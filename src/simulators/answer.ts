/**
 * Prepared HTTP answers: status, headers (with Content-Length) and body bytes, built once
 * and written as they are, so a repeated answer costs no serialization.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ErrorAnswer } from './profile.js';

/** A fully prepared answer; cached per task phase so a plain poll only writes bytes. */
export interface PreparedAnswer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function prepareAnswer(status: number, body: string | Buffer, contentType: string): PreparedAnswer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { status, headers: { 'content-type': contentType, 'content-length': bytes.length }, body: bytes };
}

/** An answer of a profile's own (an error body, a redirect), with its headers when it has some. */
export function prepareError(answer: ErrorAnswer): PreparedAnswer {
  const prepared = prepareAnswer(answer.status, answer.body, JSON_CONTENT_TYPE);
  for (const [name, value] of Object.entries(answer.headers ?? {})) prepared.headers[name.toLowerCase()] = value;
  return prepared;
}

export function sendAnswer(response: ServerResponse, answer: PreparedAnswer): void {
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/** True once the client went away (or we finished): writing more would be pointless. */
export function isGone(response: ServerResponse): boolean {
  return response.writableEnded || response.socket === null || response.socket.destroyed;
}
