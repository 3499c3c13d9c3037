/**
 * The metrics counted outside prom-client (src/fast/local-metrics.ts) read as prom-client's
 * own: on generated label sets and observations, a registry holding the local counter and
 * histogram prints what a registry holding prom-client's Counter and Histogram prints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { LocalCounts, LocalHistogram } from '../../src/fast/local-metrics.js';

const BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5];
type Name = 'route' | 'status';

const sample = fc.record({
  route: fc.constantFrom('/tasks/:id', '/tasks/batch', '/healthz', 'unmatched'),
  status: fc.constantFrom(200, 304, 404, 503),
  seconds: fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.constantFrom(...BUCKETS)),
});

function local(samples: ReadonlyArray<{ route: string; status: number; seconds: number }>): Registry {
  const registry = new Registry();
  const counts = new LocalCounts<Name>();
  counts.attach(new Counter({ name: 'requests_total', help: 'h', labelNames: ['route', 'status'], registers: [registry], collect: () => counts.flush() }));
  const histogram = new LocalHistogram({ name: 'duration_seconds', help: 'd', labelNames: ['route'] as const, buckets: BUCKETS }).register(registry);
  for (const { route, status, seconds } of samples) {
    counts.series(`${route} ${status}`, { route, status }).inc();
    histogram.series(route, { route }).observe(seconds);
  }
  return registry;
}

function plain(samples: ReadonlyArray<{ route: string; status: number; seconds: number }>): Registry {
  const registry = new Registry();
  const counter = new Counter({ name: 'requests_total', help: 'h', labelNames: ['route', 'status'], registers: [registry] });
  const histogram = new Histogram({ name: 'duration_seconds', help: 'd', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
  for (const { route, status, seconds } of samples) {
    counter.inc({ route, status });
    histogram.observe({ route }, seconds);
  }
  return registry;
}

/** prom-client's JSON gives each bucket an `exemplar: null` (the gateway records none). */
function withoutExemplars(metrics: unknown): unknown {
  return JSON.parse(JSON.stringify(metrics, (key, value: unknown) => (key === 'exemplar' && value === null ? undefined : value)));
}

test('the local counter and histogram print what prom-client\'s print, as text and as JSON', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(sample, { maxLength: 40 }), async (samples) => {
      const [mine, theirs] = [local(samples), plain(samples)];
      assert.equal(await mine.metrics(), await theirs.metrics());
      assert.deepEqual(await mine.getMetricsAsJSON(), withoutExemplars(await theirs.getMetricsAsJSON()));
      // A second read sees the same counts (nothing is counted twice on flush).
      assert.equal(await mine.metrics(), await theirs.metrics());
    }),
    { numRuns: 60 },
  );
});
