/**
 * Wire-level misbehaviour on demand. Each fault kind answers one task-status request the
 * way a sick provider or a broken network hop would, so the gateway's deadlines, retries,
 * size caps and parsers can be tested against real sockets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isGone, JSON_CONTENT_TYPE, prepareAnswer, prepareError, sendAnswer, type PreparedAnswer } from './answer.js';
import type { ProviderProfile } from './profile.js';
import type { Fault } from './script.js';

/** What a fault needs from the server that received the request. */
export interface FaultExchange {
  request: IncomingMessage;
  response: ServerResponse;
  profile: ProviderProfile;
  /** The answer the task would get without the fault, computed when called. */
  normalAnswer: () => PreparedAnswer;
  /** setTimeout whose timer the server clears on close(). */
  schedule: (callback: () => void, delayMs: number) => void;
}

// An nginx error page and a bot-challenge page: what sits in front of an API when it breaks.
const BAD_GATEWAY_PAGE = Buffer.from(
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
);
const CHALLENGE_PAGE = Buffer.from(
  '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>',
);
const HTML_CONTENT_TYPE = 'text/html; charset=utf-8';
const PADDING_CHUNK = Buffer.alloc(64 * 1024, 'x');
const DRIP_PIECES = 10;

export function applyFault(fault: Fault, exchange: FaultExchange): void {
  const { response, profile } = exchange;
  switch (fault.kind) {
    case 'latency':
      exchange.schedule(() => {
        if (!isGone(response)) sendAnswer(response, exchange.normalAnswer());
      }, fault.ms);
      return;
    case 'status':
      sendAnswer(response, prepareError(profile.errorStatus(fault.status)));
      return;
    case 'rate_limit': {
      const answer = prepareError(profile.rateLimited());
      if (fault.retryAfter !== undefined) answer.headers['retry-after'] = String(fault.retryAfter);
      sendAnswer(response, answer);
      return;
    }
    case 'reset':
      // RST rather than FIN: the client sees ECONNRESET, like a dropped upstream connection.
      exchange.request.socket.resetAndDestroy();
      return;
    case 'malformed': {
      const body = exchange.normalAnswer().body;
      sendAnswer(response, prepareAnswer(200, body.subarray(0, Math.ceil(body.length / 2)), JSON_CONTENT_TYPE));
      return;
    }
    case 'html': {
      const status = fault.status ?? 502;
      sendAnswer(response, prepareAnswer(status, status === 200 ? CHALLENGE_PAGE : BAD_GATEWAY_PAGE, HTML_CONTENT_TYPE));
      return;
    }
    case 'huge':
      sendHugeJson(response, exchange.normalAnswer().body, fault.bytes);
      return;
    case 'slow_drip':
      dripAnswer(exchange, exchange.normalAnswer(), fault.ms);
      return;
    case 'hang':
      // Never answer: the client's deadline, or close() destroying the socket, ends it.
      return;
  }
}

/**
 * A well-formed JSON body of exactly `bytes` bytes: the task's own fields plus a padding
 * string, streamed in chunks so a 100 MB body costs no 100 MB buffer.
 */
function sendHugeJson(response: ServerResponse, normalBody: Buffer, bytes: number): void {
  const suffix = Buffer.from('"}');
  const normalText = normalBody.toString();
  const opensObject = normalText.startsWith('{') && normalText.endsWith('}') && normalText.length > 2;
  let prefix = Buffer.from(opensObject ? `${normalText.slice(0, -1)},"padding":"` : '{"padding":"');
  if (prefix.length + suffix.length > bytes) prefix = Buffer.from('{"padding":"');
  let remaining = Math.max(0, bytes - prefix.length - suffix.length);

  response.writeHead(200, { 'content-type': JSON_CONTENT_TYPE, 'content-length': prefix.length + remaining + suffix.length });
  response.write(prefix);
  const pump = (): void => {
    while (remaining > 0) {
      if (isGone(response)) return;
      const size = Math.min(remaining, PADDING_CHUNK.length);
      remaining -= size;
      const writable = response.write(size === PADDING_CHUNK.length ? PADDING_CHUNK : PADDING_CHUNK.subarray(0, size));
      if (!writable) {
        response.once('drain', pump);
        return;
      }
    }
    if (!isGone(response)) response.end(suffix);
  };
  pump();
}

/** Headers (with the full Content-Length) at once, then the body in pieces over `ms`. */
function dripAnswer(exchange: FaultExchange, answer: PreparedAnswer, totalMs: number): void {
  const { response } = exchange;
  const pieces = Math.max(1, Math.min(DRIP_PIECES, answer.body.length));
  const pieceSize = Math.ceil(answer.body.length / pieces);
  const interval = totalMs / pieces;
  response.writeHead(answer.status, answer.headers);
  response.flushHeaders();
  let offset = 0;
  const writeNext = (): void => {
    if (isGone(response)) return;
    const piece = answer.body.subarray(offset, offset + pieceSize);
    offset += pieceSize;
    if (offset >= answer.body.length) {
      response.end(piece);
      return;
    }
    response.write(piece);
    exchange.schedule(writeNext, interval);
  };
  exchange.schedule(writeNext, interval);
}
