/**
 * Readiness and shutdown, in one place. `app.shutdown()` (what SIGTERM runs) turns
 * readiness off at once and from then on every answer closes its connection (the
 * connection register sees to it, src/plugins/connections.ts); it keeps
 * serving for `shutdownDelayMs` so a load balancer can take the replica out of rotation,
 * then closes: the listener stops, waiters get their latest state now, connections with no
 * request in progress (idle keep-alive ones, stalled ones still sending headers or a body)
 * are closed at once, and the requests in progress get up to `shutdownGraceMs` to finish
 * before their connections are closed too. Nothing waits for a keep-alive or body timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

/** After the grace, how long the app's own resources (connection pools) may take to close. */
const RELEASE_AFTER_GRACE_MS = 1000;

export interface Lifecycle {
  /** False from the moment shutdown begins: /readyz answers 503. */
  readonly ready: boolean;
  /** True from the moment shutdown begins: every answer closes its connection. */
  readonly closing: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
    /**
     * The graceful stop: readiness off, `shutdownDelayMs` of serving, then close() bounded
     * by `shutdownGraceMs`. Resolves once closed, or once the grace (and a second for the
     * pools) has passed: the caller may exit then whatever is left.
     */
    shutdown(): Promise<void>;
  }
}

export interface LifecycleOptions {
  shutdownDelayMs: number;
  shutdownGraceMs: number;
  /** Releases everything held open (waiters, streams) with the latest state. */
  drain: () => void;
  /** Releases what the app owns once nothing uses it (connection pools). */
  release: () => Promise<void>;
}

/** close(), but past `graceMs` the connections still serving a request are closed as well. */
async function closeWithin(app: FastifyInstance, graceMs: number): Promise<void> {
  const closed = app.close();
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace over'>((resolve) => {
    timer = setTimeout(() => resolve('grace over'), graceMs);
  });
  const outcome = await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  if (outcome !== 'grace over') return;
  const cut = app.connections.destroyAll();
  app.log.warn({ connections: cut, shutdownGraceMs: graceMs }, 'requests still in progress when the shutdown grace ended: their connections were closed');
  // A pool may still wait for an upstream call's own deadline: not past this.
  await Promise.race([closed, sleep(RELEASE_AFTER_GRACE_MS, undefined, { ref: false })]);
}

const lifecycle: FastifyPluginCallback<LifecycleOptions> = (app, options, done) => {
  const state = { ready: true, closing: false };
  let stopping: Promise<void> | undefined;
  app.decorate('lifecycle', state as Lifecycle);
  app.decorate('shutdown', () => {
    stopping ??= (async () => {
      state.ready = false;
      state.closing = true;
      app.connections.closeAfterAnswers();
      if (options.shutdownDelayMs > 0) await sleep(options.shutdownDelayMs);
      await closeWithin(app, options.shutdownGraceMs);
    })();
    return stopping;
  });

  app.addHook('preClose', async () => {
    state.ready = false;
    state.closing = true;
    // Clients (and balancers) reconnect elsewhere instead of reusing a connection.
    app.connections.closeAfterAnswers();
    options.drain();
    await app.connections.closeIdle();
  });
  app.addHook('onClose', () => options.release());
  done();
};

export default fastifyPlugin(lifecycle, { name: 'taskgate-lifecycle', dependencies: ['taskgate-connections'] });
