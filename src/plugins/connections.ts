/**
 * The gateway's client connections (docs/operations.md):
 * deadlines, a cap and a register of who is open, so that slow or silent clients cannot
 * exhaust the gateway, and shutdown can close at once whatever has no request in progress.
 *
 * - Node cuts a connection that has not sent its headers within `http.headersTimeoutMs`,
 *   or its whole request within `http.requestTimeoutMs` (nodeServerOptions(), checked every
 *   half second); here, a body that goes silent for `http.bodyIdleTimeoutMs` is cut too.
 *   The client gets a 408 problem when nothing was answered yet (clientErrorHandler).
 * - Past `http.maxConnections` a new connection gets a 503 problem and is closed, counted.
 * - An answer sent before its request's body has arrived (a 401 to a keyless upload)
 *   closes the connection: otherwise Node goes on reading that body, however slowly.
 * - On shutdown, closeIdle() closes every connection without a complete request in
 *   progress: idle keep-alive ones, and stalled ones still sending headers or a body;
 *   closeAfterAnswers() makes every answer from then on the last of its connection.
 *
 * Both say `Connection: close` on the answer (Node then ends the connection after it); the
 * answer a socket is serving is the register's (set when a request begins).
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../settings/schema.js';
import { GatewayError, rawProblemResponse } from '../errors.js';
import type { Metrics } from '../metrics.js';

type HttpSettings = Config['http'];

/** How often Node checks the header and request deadlines: each holds to within this. */
const DEADLINE_CHECK_INTERVAL_MS = 500;
/** How long a refused connection may stay for its 503 to be read before it is destroyed. */
const REFUSED_LINGER_MS = 1000;
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/**
 * On shutdown, how long a connection with no request in progress may take to show the
 * first byte of one (a keep-alive client that sent it right after the last answer) before
 * it is closed: about a round trip, so a request on its way is served, not reset.
 */
const IDLE_LINGER_MS = 50;
/** Methods whose body Fastify never reads: their bodies are bounded by requestTimeoutMs only. */
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'TRACE']);

/** Why the gateway cut a connection (a metric label). */
type CutReason = 'timeout' | 'body_idle' | 'header_overflow' | 'malformed';

declare module 'fastify' {
  interface FastifyInstance {
    connections: ConnectionRegister;
  }
}

/**
 * Node's header and request deadlines (Fastify server options: Node reads them when the
 * server is made), and the Host check moved here so its 400 is a problem too.
 */
export function nodeServerOptions(http: HttpSettings): {
  http: ServerOptions;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
} {
  const node: ServerOptions = {
    headersTimeout: http.headersTimeoutMs,
    requestTimeout: http.requestTimeoutMs,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    requireHostHeader: false,
  };
  // connectionTimeout (a socket inactivity timer) stays off: it would cut held answers.
  return { http: node, requestTimeout: http.requestTimeoutMs, keepAliveTimeout: http.keepAliveTimeoutMs, connectionTimeout: 0 };
}

/** Whether a body follows the headers (Node has not read any of it when the request is handed over). */
function declaresBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/** Writes a problem to a connection nothing was answered on yet, then ends it. */
function cutConnection(socket: Socket, response: ServerResponse | undefined, error: GatewayError): void {
  if (socket.destroyed) return;
  if (socket.writable && response?.headersSent !== true) socket.write(rawProblemResponse(error));
  socket.destroySoon();
}

/** What Node's parser reported, as the reason the connection is cut (Node uses one code for both deadlines). */
function cutReason(code: string | undefined): CutReason {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return 'header_overflow';
  return 'malformed';
}

const CUT_ANSWERS: Record<CutReason, () => GatewayError> = {
  timeout: () => new GatewayError('invalid_request', { status: 408, detail: 'The request did not arrive in time.' }),
  body_idle: () => new GatewayError('invalid_request', { status: 408, detail: 'The request body stopped arriving.' }),
  header_overflow: () => new GatewayError('invalid_request', { status: 431, detail: 'The request headers are too large.' }),
  malformed: () => new GatewayError('invalid_request', { detail: 'The request is not valid HTTP.' }),
};

/**
 * Fastify's `clientErrorHandler` (a server option): what Node's HTTP parser and deadlines
 * refuse is answered as problem+json too (docs/errors.md), and counted.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection is already gone: nothing to answer, nothing the gateway cut.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const reason = cutReason(error.code);
  this.metrics.cutConnections.inc({ reason });
  cutConnection(socket, this.connections?.pendingResponse(socket), CUT_ANSWERS[reason]());
}

/** Every open client connection, and how the answers on them end. */
export class ConnectionRegister {
  private readonly open = new Set<Socket>();
  /** The answer of the last request begun on each open socket. */
  private readonly responses = new Map<Socket, ServerResponse>();
  private lastRefusalLog = 0;
  private lastAnswers = false;

  constructor(
    private readonly app: FastifyInstance,
    private readonly settings: HttpSettings,
    private readonly metrics: Metrics,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Puts the register in front of Node's own connection handling: a socket past the cap
   * never reaches the HTTP parser, so no request on it is ever served.
   */
  attach(server: FastifyInstance['server']): void {
    const nodeListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (this.open.size >= this.settings.maxConnections) {
        this.refuse(socket);
        return;
      }
      this.open.add(socket);
      this.metrics.openConnections.set(this.open.size);
      socket.once('close', () => {
        this.open.delete(socket);
        this.responses.delete(socket);
        this.metrics.openConnections.set(this.open.size);
      });
      for (const listener of nodeListeners) listener.call(server, socket);
    });
  }

  /** What a request needs before it is served (onRequest): its answer on record; a body deadline for one with a body to come; `Connection: close` once shutdown began. */
  begin(request: IncomingMessage, response: ServerResponse): void {
    this.responses.set(request.socket, response);
    if (this.lastAnswers) {
      response.setHeader('connection', 'close');
      return;
    }
    if (!declaresBody(request) || BODYLESS_METHODS.has(request.method ?? 'GET')) return;
    this.watchBody(request);
    request.once('end', () => {
      // After an answer Node has set the keep-alive timeout on the same socket: leave that one.
      if (!response.writableFinished) request.socket.setTimeout(0);
    });
  }

  /**
   * From now on every answer closes its connection (shutdown): those not sent yet say
   * `Connection: close`, and those already streaming end their socket when they finish.
   */
  closeAfterAnswers(): void {
    this.lastAnswers = true;
    for (const socket of this.open) {
      const response = this.pendingResponse(socket);
      if (response === undefined) continue;
      if (!response.headersSent) response.setHeader('connection', 'close');
      else response.once('finish', () => socket.end());
    }
  }

  /**
   * Closes every connection without a request in progress (one that has fully arrived and
   * is not answered yet): idle keep-alive connections, and stalled ones still sending. A
   * keep-alive client may be sending its next request right now, on the way or in a buffer
   * not read yet: each quiet connection is given IDLE_LINGER_MS to show a byte, and one that
   * does has its request served as the last one (`Connection: close`) instead of reset.
   * An idle connection is then ended (FIN); a stalled one destroyed. Resolves with how many
   * were closed.
   */
  async closeIdle(): Promise<number> {
    const quiet = [...this.open].filter((socket) => !this.hasRequestInProgress(socket));
    const outcomes = await Promise.all(quiet.map((socket) => this.closeIfQuiet(socket)));
    return outcomes.filter(Boolean).length;
  }

  private closeIfQuiet(socket: Socket): Promise<boolean> {
    const bytesRead = socket.bytesRead;
    return new Promise<boolean>((resolve) => {
      const done = (closed: boolean) => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(closed);
      };
      const onData = () => done(false);
      const onClose = () => done(false);
      const timer = setTimeout(() => {
        if (socket.destroyed || this.hasRequestInProgress(socket) || socket.bytesRead !== bytesRead) return done(false);
        if (this.pendingResponse(socket) === undefined) socket.end();
        else socket.destroy();
        done(true);
      }, IDLE_LINGER_MS);
      socket.on('data', onData);
      socket.once('close', onClose);
    });
  }

  /** The answer a socket is serving: begun and not finished (none between keep-alive requests). */
  pendingResponse(socket: Socket): ServerResponse | undefined {
    const response = this.responses.get(socket);
    return response === undefined || response.writableFinished ? undefined : response;
  }

  /** Whether a socket is serving a request that has fully arrived and is not answered yet. */
  private hasRequestInProgress(socket: Socket): boolean {
    return this.pendingResponse(socket)?.req.complete === true;
  }

  /** Closes every connection, requests in progress included (the shutdown grace is over). */
  destroyAll(): number {
    const count = this.open.size;
    for (const socket of this.open) socket.destroy();
    return count;
  }

  /**
   * The body idle timeout, on the socket (Node emits the timeout on the request only while
   * the request is incomplete); begin() resets it once the body has been read.
   */
  private watchBody(request: IncomingMessage): void {
    request.setTimeout(this.settings.bodyIdleTimeoutMs, () => {
      this.metrics.cutConnections.inc({ reason: 'body_idle' });
      cutConnection(request.socket, this.pendingResponse(request.socket), CUT_ANSWERS.body_idle());
    });
  }

  private refuse(socket: Socket): void {
    this.metrics.refusedConnections.inc();
    const now = Date.now();
    if (now - this.lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
      this.lastRefusalLog = now;
      this.app.log.warn({ maxConnections: this.settings.maxConnections }, 'connection cap reached: refusing new connections');
    }
    const refusal = new GatewayError('service_unavailable', {
      retryAfter: 1,
      detail: 'The gateway holds as many connections as it allows; retry shortly.',
    });
    socket.on('error', () => {
      /* the client may reset a refused connection: nothing to do */
    });
    socket.end(rawProblemResponse(refusal));
    // Read and drop what the client sends, so the close is a clean one (not a reset that
    // could discard the 503 before the client reads it); never for longer than the linger.
    socket.resume();
    socket.once('end', () => socket.destroy());
    socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
  }
}

export interface ConnectionsOptions {
  http: HttpSettings;
  metrics: Metrics;
}

const connections: FastifyPluginCallback<ConnectionsOptions> = (app, { http, metrics }, done) => {
  const register = new ConnectionRegister(app, http, metrics);
  register.attach(app.server);
  app.decorate('connections', register);

  // Answered before its body has been read: close rather than read the rest of it first.
  app.addHook('onSend', (request, reply, payload, next) => {
    if (request.raw.complete !== true && request.raw.socket instanceof Socket && declaresBody(request.raw)) void reply.header('connection', 'close');
    next(null, payload);
  });
  app.addHook('onRequest', (request, reply, next) => {
    // `inject()` requests have no real socket: nothing to register or time.
    if (request.raw.socket instanceof Socket) register.begin(request.raw, reply.raw);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (Node's own would be an empty one).
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      throw new GatewayError('invalid_request', { detail: 'An HTTP/1.1 request needs a Host header.' });
    }
    next();
  });
  done();
};

export default fastifyPlugin(connections, { name: 'taskgate-connections' });
