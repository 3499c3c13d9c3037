/**
 * The OTEL_* variables as src/config.ts reads them: off unless an endpoint is given, the
 * spec's precedence (signal-specific over general, OTEL_SERVICE_NAME over resource
 * attributes), and bad values refused at boot with the variable named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { type EnabledTracingConfig } from '../../src/tracing/settings.js';

function enabled(env: Record<string, string>): EnabledTracingConfig {
  const { tracing } = loadConfig(env);
  assert.equal(tracing.enabled, true);
  return tracing;
}

test('off by default, and off with an endpoint when disabled or exporting to none', () => {
  assert.deepEqual(loadConfig({}).tracing, { enabled: false });
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  assert.deepEqual(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing, { enabled: false });
  assert.deepEqual(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }).tracing, { enabled: false });
  assert.deepEqual(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).tracing, { enabled: false });
  // The spec: anything but "true" is false.
  assert.equal(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: '1' }).tracing.enabled, true);
  // An empty variable is an unset one.
  assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing, { enabled: false });
});

test('an endpoint turns tracing on, with the spec’s defaults', () => {
  const tracing = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
  assert.equal(tracing.url, 'http://collector:4318/v1/traces');
  assert.equal(tracing.protocol, 'http/protobuf');
  assert.equal(tracing.timeoutMs, 10_000);
  assert.equal(tracing.compression, 'none');
  assert.deepEqual(tracing.headers, {});
  assert.equal(tracing.serviceName, 'taskgate');
  assert.equal(tracing.sampler, 'parentbased_always_on');
  assert.equal(tracing.samplerRatio, 1);
  assert.deepEqual(tracing.batch, { scheduleDelayMs: 5000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 });
  // OTEL_TRACES_EXPORTER=otlp alone: the spec's default collector address.
  assert.equal(enabled({ OTEL_TRACES_EXPORTER: 'otlp' }).url, 'http://localhost:4318/v1/traces');
});

test('the traces-specific variables win over the general ones; the traces endpoint is used as given', () => {
  const tracing = enabled({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp/spans',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Basic%20abc,x-team=a',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-team=b',
    OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
  });
  assert.equal(tracing.url, 'https://traces.example/otlp/spans');
  assert.equal(tracing.protocol, 'http/json');
  assert.deepEqual(tracing.headers, { authorization: 'Basic abc', 'x-team': 'b' });
  assert.equal(tracing.timeoutMs, 2500);
  assert.equal(tracing.compression, 'gzip');
});

test('service name, resource attributes, sampler and batch settings', () => {
  const tracing = enabled({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-resource,deployment.environment.name=prod',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_BSP_SCHEDULE_DELAY: '1000',
    OTEL_BSP_MAX_QUEUE_SIZE: '100',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
  });
  assert.equal(tracing.serviceName, 'from-resource', 'service.name of OTEL_RESOURCE_ATTRIBUTES, when OTEL_SERVICE_NAME is unset');
  assert.deepEqual(tracing.resourceAttributes, { 'service.name': 'from-resource', 'deployment.environment.name': 'prod' });
  assert.equal(tracing.sampler, 'parentbased_traceidratio');
  assert.equal(tracing.samplerRatio, 0.25);
  assert.deepEqual(tracing.batch, { scheduleDelayMs: 1000, exportTimeoutMs: 30_000, maxQueueSize: 100, maxExportBatchSize: 50 });
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SERVICE_NAME: 'gw', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).serviceName, 'gw');
});

test('bad values stop the boot with the variable named', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL: .*gRPC is not supported/],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER: must be otlp or none/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/],
    [{ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /^OTEL_EXPORTER_OTLP_HEADERS: must be a list of key=value pairs/],
    [{ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'a=%zz' }, /^OTEL_EXPORTER_OTLP_HEADERS: the value of a is not valid percent-encoding/],
    [{ ...endpoint, OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER: must be one of always_on/],
    [{ ...endpoint, OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: /],
    [{ ...endpoint, OTEL_TRACES_SAMPLER_ARG: 'half' }, /^OTEL_TRACES_SAMPLER_ARG: must be a number/],
    [{ ...endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '0' }, /^OTEL_EXPORTER_OTLP_TIMEOUT: /],
    [{ ...endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }, /^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not be larger than OTEL_BSP_MAX_QUEUE_SIZE/],
  ];
  for (const [env, message] of refused) {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && message.test(error.message), JSON.stringify(env));
  }
});
