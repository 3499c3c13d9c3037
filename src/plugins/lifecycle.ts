/**
 * Readiness and shutdown, in one place. `app.shutdown()` (what SIGTERM runs) turns
 * readiness off at once, keeps serving for `shutdownDelayMs` so a load balancer can take
 * the replica out of rotation, then closes: the listener stops, waiters get their latest
 * state now, and every connection ends after the answer it is carrying (idle ones are
 * closed at once by the server), so nothing waits for a keep-alive timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginCallback } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

export interface Lifecycle {
  /** False from the moment shutdown begins: /readyz answers 503. */
  readonly ready: boolean;
  /** True once the app is closing: connections end after their current answer. */
  readonly closing: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
    /** The graceful stop: readiness off, `shutdownDelayMs` of serving, then close(). */
    shutdown(): Promise<void>;
  }
}

export interface LifecycleOptions {
  shutdownDelayMs: number;
  /** Releases everything held open (waiters, streams) with the latest state. */
  drain: () => void;
  /** Releases what the app owns once nothing uses it (connection pools). */
  release: () => Promise<void>;
}

const lifecycle: FastifyPluginCallback<LifecycleOptions> = (app, options, done) => {
  const state = { ready: true, closing: false };
  let stopping: Promise<void> | undefined;
  app.decorate('lifecycle', state as Lifecycle);
  app.decorate('shutdown', () => {
    stopping ??= (async () => {
      state.ready = false;
      if (options.shutdownDelayMs > 0) await sleep(options.shutdownDelayMs);
      await app.close();
    })();
    return stopping;
  });

  app.addHook('preClose', (next) => {
    state.ready = false;
    state.closing = true;
    options.drain();
    next();
  });
  // Fastify answers requests that arrive while closing with `Connection: close`; one that was
  // already in flight (or streaming) would leave its socket open for the keep-alive timeout.
  app.addHook('onResponse', (request, _reply, next) => {
    if (state.closing) request.raw.socket?.end();
    next();
  });
  app.addHook('onClose', () => options.release());
  done();
};

export default fastifyPlugin(lifecycle, { name: 'taskgate-lifecycle' });
