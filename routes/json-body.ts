/**
 * Request bodies the gateway can read: JSON in UTF-8, as sent. A `Content-Encoding` or
 * another charset would otherwise be ignored and the bytes parsed as UTF-8 JSON anyway; they are refused with a 415 before the body is read.
 */
import type { onRequestHookHandler } from 'fastify';
import { GatewayError } from '../src/errors.js';

const UTF8_NAMES: ReadonlySet<string> = new Set(['utf-8', 'utf8']);
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/** An `onRequest` hook of a route with a JSON body. */
export const refuseUndecodableBody: onRequestHookHandler = (request, _reply, done) => {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new GatewayError('unsupported_media_type', { detail: 'Compressed bodies are not accepted: send the JSON without a Content-Encoding.' });
  }
  const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && !UTF8_NAMES.has(charset)) {
    throw new GatewayError('unsupported_media_type', { detail: 'Only UTF-8 bodies are accepted: send `Content-Type: application/json; charset=utf-8`.' });
  }
  done();
};
