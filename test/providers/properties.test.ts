/**
 * Property tests for every provider: whatever the upstream sends (any JSON, bodies built
 * from the providers' own field names with random types, any HTTP status) to every call a
 * lookup makes, the lookup either gives a state that meets every Task invariant or throws
 * a GatewayError with an upstream code, and never anything else.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { TaskSchema, TASK_STATUSES } from '../../schemas/task.js';
import { isGatewayError, type ProblemCode } from '../../src/errors.js';
import type { HttpProviderDefinition } from '../../src/providers/define.js';
import { getProvider, PROVIDERS } from '../../src/providers/index.js';
import { COMMON_STATUS_WORDS } from '../../src/providers/normalize.js';
import type { ProviderDefinition, TaskState } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { loadProfile, simulatorCredentialValues } from '../../src/simulators/index.js';
import { runLookup } from '../helpers/adapter.js';

const UPSTREAM_CODES: ReadonlySet<ProblemCode> = new Set<ProblemCode>([
  'task_not_found',
  'upstream_auth_failed',
  'upstream_rate_limited',
  'upstream_error',
  'upstream_invalid_response',
]);
const TaskStateSchema = TaskSchema.omit({ id: true, provider: true, poll_after_ms: true, content_url: true, archived_at: true }).strict();
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const NUM_RUNS = 400;

function isAbsoluteHttpUrl(value: string): boolean {
  return URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol);
}

function assertTaskInvariants(state: TaskState): void {
  const parsed = TaskStateSchema.safeParse(state);
  assert.ok(parsed.success, `state breaks the Task schema: ${JSON.stringify(state)}`);
  assert.ok(TASK_STATUSES.includes(state.status));
  assert.notEqual(state.provider_task_id, '');
  for (const output of state.outputs) assert.ok(output.private === true || isAbsoluteHttpUrl(output.url), output.url);
  const primary = state.outputs.find((output) => output.type === 'video') ?? state.outputs[0];
  assert.equal(state.url, primary?.url ?? null);
  if (state.status === 'succeeded') {
    assert.ok(state.filesRemoved === true || (state.url !== null && (primary?.private === true || isAbsoluteHttpUrl(state.url))));
    assert.equal(state.progress, 100);
  }
  if (state.status === 'failed') assert.ok(state.error !== null && state.error.message !== '');
  else assert.equal(state.error, null);
  for (const time of [state.created_at, state.completed_at]) {
    assert.ok(time === null || RFC3339_UTC.test(time), `not RFC 3339 UTC: ${String(time)}`);
  }
}

/**
 * Credentials each provider can connect with: what its simulator makes when it has a way of
 * its own (a service-account file), else a value per credential.
 */
const prepared = await Promise.all(
  PROVIDERS.map(async (provider) => {
    const made = await (await loadProfile(provider.name)).credentials?.(simulatorCredentialValues(provider.name, 'test'), 'http://127.0.0.1:9');
    return [provider.name, made] as const;
  }),
);
const CREDENTIALS = new Map<string, Readonly<Record<string, string>> | undefined>(prepared.map(([name, made]) => [name, made?.values]));
after(() => Promise.all(prepared.map(([, made]) => Promise.resolve(made?.close?.()))));

/** The state a lookup gives when every call it makes is answered with `response`. */
async function checkLookup(providerName: string, response: UpstreamResponse, nativeId?: string): Promise<void> {
  const provider = providerNamed(providerName);
  const id = nativeId !== undefined && provider.nativeIds.pattern.test(nativeId) ? nativeId : provider.nativeIds.example;
  let state: TaskState;
  try {
    ({ state } = await runLookup(provider, id, () => response, { credentials: CREDENTIALS.get(provider.name) }));
  } catch (error) {
    assert.ok(isGatewayError(error), `non-GatewayError thrown: ${String(error)}`);
    assert.ok(UPSTREAM_CODES.has(error.code), `unexpected code ${error.code}`);
    assert.equal(error.provider, provider.name);
    if (error.code === 'upstream_rate_limited') {
      assert.ok(Number.isInteger(error.retryAfter) && (error.retryAfter ?? 0) >= 1);
    }
    // Short bodies ("1", "{}") can occur in any sentence by chance; longer ones must not leak.
    if (response.body.trim().length >= 16) assert.ok(!error.detail.includes(response.body.trim()));
    return;
  }
  assert.ok(response.statusCode >= 200 && response.statusCode <= 299, 'a non-2xx answer produced a state');
  assertTaskInvariants(state);
}

// By name, so that a counterexample prints "vtrix" rather than the whole definition object.
const providerArb = fc.constantFrom(...PROVIDERS.map((provider) => provider.name));

function providerNamed(name: string): ProviderDefinition {
  const provider = getProvider(name);
  assert.ok(provider !== undefined, name);
  return provider;
}

const FIELD_NAMES = [
  'id', 'task_id', 'status', 'progress', 'created_at', 'completed_at', 'submit_time', 'finish_time',
  'output', 'content', 'type', 'url', 'video_url', 'result_url', 'format', 'error', 'code', 'message',
  'error_message', 'fail_reason', 'model', 'data', 'metadata', 'object',
] as const;

const statusWordArb = fc.oneof(
  fc.constantFrom(
    'queued', 'pending', 'in_queue', 'submitted', 'NOT_START', 'starting', 'in_progress', 'processing',
    'running', 'unknown', 'succeeded', 'completed', 'success', 'SUCCESS', 'failed', 'failure', 'FAILURE',
    'error', 'canceled', 'cancelled', 'IN_PROGRESS', 'QUEUED', 'WEIRD_STATE', '',
  ),
  fc.string({ maxLength: 12 }),
);

const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  statusWordArb,
  fc.constantFrom(
    '30%', '100%', '0.5', ' ', '2026-04-10T14:32:05Z', '2026-04-10 14:32:05', '2026-02-31T00:00:00Z',
    'video', 'video_url', 'image', 'audio_url', 'text', 'mp4', 'png', 'mp3', 'task_not_exist', 'success',
    'not found', 'https://cdn.example/v.mp4', '/v1/videos/task_1/content', '//cdn.example/x.mp4',
    'ftp://files.example/x', 'data:,x', 'javascript:alert(1)', 'not a url', 'http://', 'https://[::1',
  ),
  fc.constantFrom(0, 1, 0.42, 10, 100, 1e11, 1775831525, 1768000000000, -1, 1e300, 8.64e15, 2014001),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.string(),
);

/** Objects whose keys come from the providers' vocabulary, with values of any type, nested. */
const { vocabularyObject } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalarArb, tie('vocabularyObject'), fc.array(tie('value'), { maxLength: 3 })),
  vocabularyObject: fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie('value'), { maxKeys: 8 }),
}));

/** Usually the documented type, sometimes any type at all. */
function mostly<T>(wellTyped: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: wellTyped }, { weight: 1, arbitrary: scalarArb });
}

const urlArb = fc.oneof(
  fc.constantFrom('https://cdn.example/v.mp4', '/v1/videos/t/content', 'out.mp4', 'ftp://x/y', '', 'not a url'),
  fc.webUrl(),
  fc.string({ maxLength: 20 }),
);
const timeArb = fc.oneof(
  fc.integer({ min: 0, max: 4_000_000_000 }),
  fc.integer({ min: 0, max: 8_000_000_000_000 }),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('2026-04-10T14:32:05Z', '2026-04-10T16:32:05+02:00', '2026-02-31T00:00:00Z', 'yesterday'),
);
const progressArb = fc.oneof(
  fc.double({ min: -1, max: 2, noNaN: true }),
  fc.integer({ min: -10, max: 200 }),
  fc.integer({ min: 0, max: 100 }).map((percent) => `${percent}%`),
);
const contentArb = fc.record(
  { type: mostly(fc.constantFrom('video', 'video_url', 'image', 'audio', 'text')), url: mostly(urlArb) },
  { requiredKeys: [] },
);
const outputItemArb = fc.record({ content: mostly(fc.array(mostly(contentArb), { maxLength: 3 })) });
const outputArb = fc.array(mostly(outputItemArb), { maxLength: 3 });
const errorArb = fc.oneof(
  fc.string(),
  fc.record(
    { code: mostly(fc.oneof(fc.integer(), fc.string())), message: mostly(fc.string()), error_message: mostly(fc.string()) },
    { requiredKeys: [] },
  ),
);

/** Task-like bodies: always a status word, the documented fields often present and usually well typed. */
const taskArb = fc.record(
  {
    status: statusWordArb,
    id: mostly(fc.string({ minLength: 1, maxLength: 24 })),
    task_id: mostly(fc.string({ minLength: 1, maxLength: 24 })),
    model: mostly(fc.string({ maxLength: 12 })),
    progress: mostly(progressArb),
    created_at: mostly(timeArb),
    completed_at: mostly(timeArb),
    submit_time: mostly(timeArb),
    finish_time: mostly(timeArb),
    output: mostly(outputArb),
    url: mostly(urlArb),
    video_url: mostly(urlArb),
    result_url: mostly(urlArb),
    format: mostly(fc.constantFrom('mp4', 'png', 'mp3', 'PNG', 'webm')),
    error: mostly(errorArb),
    fail_reason: mostly(fc.string()),
  },
  { requiredKeys: ['status'] },
);

/** The task as each provider variant would carry it: flat, vtrix legacy wrapped, gravitex wrapped. */
const wrappedTaskArb = fc.oneof(
  taskArb,
  fc.record({
    data: fc.oneof(taskArb, scalarArb),
    status: fc.record({ code: scalarArb, message: scalarArb }, { requiredKeys: [] }),
  }),
  fc.record({
    code: fc.oneof(fc.constantFrom('success', 'task_not_exist', 'failed'), scalarArb),
    message: scalarArb,
    data: fc.oneof(taskArb, scalarArb),
  }),
);

const bodyArb = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  vocabularyObject.map((value) => JSON.stringify(value)),
  wrappedTaskArb.map((value) => JSON.stringify(value)),
  fc.string(),
  fc.constantFrom('', '<html><body>502 Bad Gateway</body></html>', '{"status":', 'null', '[]'),
);

const headersArb = fc.option(
  fc.record({
    'Retry-After': fc.oneof(
      fc.nat().map(String),
      fc.string(),
      fc.date({ noInvalidDate: true }).map((date) => date.toUTCString()),
    ),
  }),
  { nil: {} },
);

describe('lookup properties (every provider)', () => {
  it('any JSON value as a 200 body yields a valid state or an upstream GatewayError', async () => {
    await fc.assert(
      fc.asyncProperty(providerArb, fc.jsonValue(), (provider, value) => checkLookup(provider, { statusCode: 200, headers: {}, body: JSON.stringify(value) ?? '' })),
      { numRuns: NUM_RUNS },
    );
  });

  it("bodies from the providers' field names with random types yield a valid state or an upstream GatewayError", async () => {
    await fc.assert(
      fc.asyncProperty(providerArb, fc.oneof(vocabularyObject, wrappedTaskArb), (provider, body) =>
        checkLookup(provider, { statusCode: 200, headers: {}, body: JSON.stringify(body) }),
      ),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('any HTTP status, body and Retry-After yields a valid state only for 2xx, else an upstream GatewayError', async () => {
    const statusArb = fc.oneof(
      fc.integer({ min: 100, max: 599 }),
      fc.constantFrom(200, 201, 204, 400, 401, 403, 404, 422, 429, 500, 502, 503),
    );
    const nativeIdArb = fc.string({ minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(providerArb, statusArb, bodyArb, headersArb, nativeIdArb, (provider, statusCode, body, headers, id) =>
        checkLookup(provider, { statusCode, headers, body }, id),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('task-like bodies reach every status of the common vocabulary: the generator is not only producing rejections', async () => {
    const common = PROVIDERS.filter((provider) => provider.statuses === COMMON_STATUS_WORDS).map((provider) => provider.name);
    const statusesSeen = new Set<string>();
    let states = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...common), taskArb, async (providerName, task) => {
        const provider = providerNamed(providerName);
        const response = { statusCode: 200, headers: {}, body: JSON.stringify(task) };
        try {
          statusesSeen.add((await runLookup(provider, provider.nativeIds.example, () => response, { credentials: CREDENTIALS.get(provider.name) })).state.status);
          states += 1;
        } catch (error) {
          if (!isGatewayError(error)) throw error;
        }
      }),
      { numRuns: NUM_RUNS },
    );
    assert.deepEqual([...statusesSeen].sort(), [...TASK_STATUSES].sort());
    assert.ok(states >= NUM_RUNS / 10, `only ${states} of ${NUM_RUNS} task-like bodies gave a state`);
  });

  it('a one-GET provider URL-encodes the whole native id into one path segment', () => {
    const oneGet = PROVIDERS.filter((provider): provider is typeof provider & HttpProviderDefinition => 'taskPath' in provider);
    fc.assert(
      fc.property(fc.constantFrom(...oneGet.map((provider) => provider.name)), fc.string({ minLength: 1, maxLength: 60 }), (providerName, nativeId) => {
        const path = (providerNamed(providerName) as HttpProviderDefinition).taskPath(nativeId);
        const lastSlash = path.lastIndexOf('/');
        assert.equal(decodeURIComponent(path.slice(lastSlash + 1)), nativeId);
        assert.ok(!/[?#\s]/.test(path));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
