import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { PROVIDER_NAMES } from '../src/providers/index.js';

test('defaults match the contract', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.logLevel, 'info');
  assert.equal(config.upstreamTimeoutMs, 10_000);
  assert.equal(config.rateLimitPerMinute, 600);
  assert.deepEqual(config.circuit, { failureThreshold: 5, openMs: 30_000 });
  assert.deepEqual(config.apiKeys, []);
  assert.equal(config.corsOrigins, null);
  assert.equal(config.providers.vtrix!.baseUrl, 'https://cloud.vtrix.ai');
  assert.equal(config.providers.gravitex!.baseUrl, 'https://api.gravitex.ai');
  assert.equal(config.providers.openai!.baseUrl, undefined, 'no default host for the OpenAI shape');
  assert.equal(config.providers.openai!.pollIntervalMs, 1000);
  assert.equal(config.providers.vtrix!.credentials, undefined, 'no key: not configured');
  // The default routing table is made from the providers' own rules: every row of the
  // contract's table, with the candidates the registry has, in their order.
  assert.deepEqual(config.routes, expectedDefaultRoutes());
  assert.equal(config.maxUpstreamBodyBytes, 1024 * 1024);
  assert.equal(config.upstreamRetries, 2);
  assert.equal(config.shutdownDelayMs, 0);
  assert.equal(config.publicUrl, undefined);
});

/** The contract's default routing table, rows and candidates kept for the providers in the registry. */
function expectedDefaultRoutes() {
  const table = [
    { prefix: 'video_', providers: ['gravitex', 'openai'] },
    { pattern: '^[0-9a-v]{20}$', providers: ['vtrix'] },
    { prefix: 'task_', providers: ['vtrix', 'gravitex'] },
    { pattern: '^\\d{10,19}$', providers: ['kling', 'minimax', 'vidu', 'pixverse'] },
    { pattern: '^models/[^/]+/operations/[^/]+$', providers: ['gemini'] },
    { pattern: '^projects/[^/]+/locations/[^/]+/publishers/google/models/[^/]+/operations/[^/]+$', providers: ['vertex'] },
    { pattern: '^cgt-\\d{14}-[a-z0-9]{5}$', providers: ['ark'] },
    { pattern: '^[a-z0-9]{26}$', providers: ['replicate'] },
    { pattern: '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$', providers: ['runway', 'luma', 'dashscope'] },
  ];
  const known = new Set<string>(PROVIDER_NAMES);
  return table
    .map((row) => ({ ...row, providers: row.providers.filter((name) => known.has(name)) }))
    .filter((row) => row.providers.length > 0);
}

test('no limit is an arbitrary cap: 0 turns the breaker off, big numbers are taken', () => {
  assert.equal(loadConfig({ CIRCUIT_FAILURE_THRESHOLD: '0' }).circuit.failureThreshold, 0);
  assert.equal(loadConfig({ CIRCUIT_FAILURE_THRESHOLD: '100000' }).circuit.failureThreshold, 100_000);
  assert.equal(loadConfig({ TASKGATE_RATE_LIMIT: '50000000' }).rateLimitPerMinute, 50_000_000);
  assert.equal(loadConfig({ UPSTREAM_TIMEOUT_MS: '2147483647' }).upstreamTimeoutMs, 2_147_483_647);
  // Past what a Node timer holds, a timeout would fire at once: that breaks something.
  assert.throws(() => loadConfig({ UPSTREAM_TIMEOUT_MS: '2147483648' }), /UPSTREAM_TIMEOUT_MS/);
});

test('environment values are parsed', () => {
  const config = loadConfig({
    PORT: '9090',
    VTRIX_API_KEY: 'k1',
    VTRIX_BASE_URL: 'http://127.0.0.1:1234/',
    TASKGATE_API_KEYS: 'a, b,,c',
    TASKGATE_CORS_ORIGINS: 'https://app.example,http://localhost:3000',
    TASKGATE_RATE_LIMIT: '0',
  });
  assert.equal(config.port, 9090);
  assert.equal(config.providers.vtrix!.credentials?.['apiKey'], 'k1');
  assert.equal(config.providers.vtrix!.baseUrl, 'http://127.0.0.1:1234', 'trailing slash dropped');
  assert.deepEqual(config.apiKeys, ['a', 'b', 'c']);
  assert.deepEqual(config.corsOrigins, ['https://app.example', 'http://localhost:3000']);
  assert.equal(config.rateLimitPerMinute, 0);
  assert.equal(loadConfig({ TASKGATE_CORS_ORIGINS: '*' }).corsOrigins, '*');
});

test('a bad value stops the boot with a message naming the variable', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ UPSTREAM_TIMEOUT_MS: '-5' }, /UPSTREAM_TIMEOUT_MS/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ VTRIX_BASE_URL: 'ftp://x' }, /VTRIX_BASE_URL/],
    [{ GRAVITEX_BASE_URL: 'not a url' }, /GRAVITEX_BASE_URL/],
    [{ CIRCUIT_FAILURE_THRESHOLD: '-1' }, /CIRCUIT_FAILURE_THRESHOLD/],
    [{ CIRCUIT_OPEN_MS: '0' }, /CIRCUIT_OPEN_MS/],
    [{ UPSTREAM_TIMEOUT_MS: '0x10' }, /UPSTREAM_TIMEOUT_MS: must be a whole number/],
    [{ VTRIX_BASE_URL: 'http://user:secret@127.0.0.1:9' }, /VTRIX_BASE_URL: must not contain credentials/],
    [{ VTRIX_API_KEY: 'line\nbreak' }, /VTRIX_API_KEY/],
    [{ TASKGATE_LINK_SECRET: 'too-short' }, /TASKGATE_LINK_SECRET/],
    [{ TASKGATE_PUBLIC_URL: 'taskgate.example' }, /TASKGATE_PUBLIC_URL/],
    [{ TASKGATE_CORS_ORIGINS: 'app.example' }, /TASKGATE_CORS_ORIGINS/],
    [{ TASKGATE_CONFIG: '/nonexistent/taskgate.json' }, /TASKGATE_CONFIG/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && pattern.test(error.message), JSON.stringify(env));
  }
});

test('TASKGATE_CONFIG sets routing rules and provider settings, and is validated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskgate-config-'));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ routes: [{ prefix: 'gx-', providers: ['gravitex'] }], providers: { vtrix: { pollIntervalMs: 3000 } } }));
  const config = loadConfig({ TASKGATE_CONFIG: good });
  assert.deepEqual(config.routes, [{ prefix: 'gx-', providers: ['gravitex'] }]);
  assert.equal(config.providers.vtrix!.pollIntervalMs, 3000);

  const everything = join(dir, 'everything.json');
  writeFileSync(everything, JSON.stringify({ maxUpstreamBodyBytes: 2048, upstreamRetries: 0, shutdownDelayMs: 5000, upstreamTimeoutMs: 700 }));
  const tuned = loadConfig({ TASKGATE_CONFIG: everything, UPSTREAM_TIMEOUT_MS: '900' });
  assert.equal(tuned.maxUpstreamBodyBytes, 2048);
  assert.equal(tuned.upstreamRetries, 0);
  assert.equal(tuned.shutdownDelayMs, 5000);
  assert.equal(tuned.upstreamTimeoutMs, 900, 'the environment wins over the file');

  const badSetting = join(dir, 'bad-setting.json');
  writeFileSync(badSetting, JSON.stringify({ cache: { terminalMaxEntries: 0 } }));
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: badSetting }), /TASKGATE_CONFIG: cache\.terminalMaxEntries/);
  assert.equal(config.trustProxy, false, 'proxies are not trusted unless configured');

  const proxied = join(dir, 'proxied.json');
  writeFileSync(proxied, JSON.stringify({ trustProxy: ['10.0.0.0/8'] }));
  assert.deepEqual(loadConfig({ TASKGATE_CONFIG: proxied }).trustProxy, ['10.0.0.0/8']);

  const unknownProvider = join(dir, 'unknown.json');
  writeFileSync(unknownProvider, JSON.stringify({ routes: [{ prefix: 'x', providers: ['acme'] }] }));
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: unknownProvider }), new RegExp(`TASKGATE_CONFIG: routes\\.0\\.providers: names an unknown provider "acme" \\(known: ${PROVIDER_NAMES.join(', ')}\\)`));

  const notJson = join(dir, 'bad.json');
  writeFileSync(notJson, '{ nope');
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: notJson }), /TASKGATE_CONFIG: the file ".*bad\.json" is not valid JSON/);
});

test('an OpenAI key without OPENAI_BASE_URL stops the boot, saying OpenAI retired its Videos API', () => {
  assert.throws(
    () => loadConfig({ OPENAI_API_KEY: 'sk-x' }),
    /^ConfigError: OPENAI_BASE_URL: is required with OPENAI_API_KEY: OpenAI retired its Videos API on 2026-09-24; set it to the relay or host/,
  );
  assert.equal(loadConfig({ OPENAI_API_KEY: 'sk-x', OPENAI_BASE_URL: 'https://relay.example/' }).providers.openai!.baseUrl, 'https://relay.example');
  assert.equal(loadConfig({ OPENAI_BASE_URL: 'https://relay.example' }).providers.openai!.credentials, undefined, 'a base URL alone configures nothing');
});

test('TASKGATE_CONFIG takes the JSON itself too, and a missing file is named with what the variable takes', () => {
  const inline = loadConfig({ TASKGATE_CONFIG: ' {"cache": {"terminalMaxEntries": 7}, "routes": [{"prefix": "x", "providers": ["vtrix"]}]} ' });
  assert.equal(inline.cache.terminalMaxEntries, 7);
  assert.deepEqual(inline.routes, [{ prefix: 'x', providers: ['vtrix'] }]);
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: '{ nope' }), /^ConfigError: TASKGATE_CONFIG: the value is not valid JSON$/);
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: '{}x' }), /TASKGATE_CONFIG: the value is not valid JSON/);
  assert.throws(
    () => loadConfig({ TASKGATE_CONFIG: '/nonexistent/taskgate.json' }),
    /^ConfigError: TASKGATE_CONFIG: cannot read the file "\/nonexistent\/taskgate\.json" \(ENOENT\); it takes the path of a JSON file, or the JSON itself$/,
  );
});

test('connection deadlines, the connection cap, the batch lookup cap and the failed-auth throttle have their documented defaults and are validated', () => {
  const config = loadConfig({});
  assert.deepEqual(config.http, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    bodyIdleTimeoutMs: 10_000,
    keepAliveTimeoutMs: 72_000,
    maxConnections: 10_000,
  });
  assert.equal(config.batch.maxConcurrentLookups, 10);
  assert.equal(config.authFailuresPerMinute, 10);

  const dir = mkdtempSync(join(tmpdir(), 'taskgate-config-'));
  const file = (name: string, settings: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(settings));
    return path;
  };
  const tuned = loadConfig({ TASKGATE_CONFIG: file('tuned.json', { http: { requestTimeoutMs: 5000, headersTimeoutMs: 5000, maxConnections: 1 }, authFailuresPerMinute: 0 }) });
  assert.equal(tuned.http.requestTimeoutMs, 5000);
  assert.equal(tuned.http.bodyIdleTimeoutMs, 10_000, 'unset settings keep their defaults');
  assert.equal(tuned.http.maxConnections, 1);
  assert.equal(tuned.authFailuresPerMinute, 0);
  // Node refuses a header deadline past the whole-request one.
  assert.throws(() => loadConfig({ TASKGATE_CONFIG: file('headers.json', { http: { requestTimeoutMs: 5000 } }) }), /TASKGATE_CONFIG: http\.headersTimeoutMs: must not be longer/);
  for (const [name, settings, path] of [
    ['zero-cap.json', { http: { maxConnections: 0 } }, /http\.maxConnections/],
    ['zero-idle.json', { http: { bodyIdleTimeoutMs: 0 } }, /http\.bodyIdleTimeoutMs/],
    ['zero-batch.json', { batch: { maxConcurrentLookups: 0 } }, /batch\.maxConcurrentLookups/],
    ['unknown.json', { http: { idleMs: 5 } }, /TASKGATE_CONFIG: http/],
  ] as const) {
    assert.throws(() => loadConfig({ TASKGATE_CONFIG: file(name, settings) }), path);
  }
});
