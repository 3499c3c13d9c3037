/**
 * Starting the tracing of one app (the interfaces and the no-op tracer are in ./api.js).
 * Off, `startTracing` hands out the no-op tracing without importing anything of
 * OpenTelemetry; on, it imports the SDK (./sdk.js, a bundle of its own in the production
 * build) and the request hooks that go with it.
 */
import { isGatewayError } from '../errors.js';
import { NOOP_TRACING, type Tracing, type TracingContext } from './api.js';
import { instrumentRequests } from './requests.js';
import type { EnabledTracingConfig, TracingConfig } from './settings.js';

/** The tracing of one app: the no-op one when it is off (and then nothing of OpenTelemetry is loaded). */
export async function startTracing(config: TracingConfig, context: Omit<TracingContext, 'isGatewayError'>): Promise<Tracing> {
  if (!config.enabled) return NOOP_TRACING;
  const { createTracing } = await import('./sdk.js');
  const sdk = createTracing(config satisfies EnabledTracingConfig, { ...context, isGatewayError });
  return { tracer: sdk.tracer, instrument: (app) => instrumentRequests(app, sdk) };
}
