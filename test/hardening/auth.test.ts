/**
 * Client authentication (TASKGATE_API_KEYS): every /tasks route needs one of the keys as
 * a Bearer token; operations, spec and docs stay open; a refused request never costs a
 * provider call.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientKeys, FailedAuthThrottle } from '../../src/auth.js';
import { GatewayError } from '../../src/errors.js';
import type { Config } from '../../src/settings/schema.js';
import { clientKeyWarnings } from '../../src/server.js';
import { TaskSchema } from '../../schemas/task.js';
import { json, startStack } from '../helpers/stack.js';
import { assertProblem, header, startGatewayProcess } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];
const KEYS = { TASKGATE_API_KEYS: 'k1-alpha-secret,k2-beta-secret' };
/** For tests that refuse more keys than the failed-auth throttle allows from one address. */
const UNTHROTTLED = (config: Config): Config => ({ ...config, authFailuresPerMinute: 0 });

describe('ClientKeys', () => {
  test('matches each configured key to its own id and nothing else', () => {
    const keys = new ClientKeys(['k1-alpha-secret', 'k2-beta-secret']);
    assert.equal(keys.enabled, true);
    assert.equal(keys.match('k1-alpha-secret'), 'key-1');
    assert.equal(keys.match('k2-beta-secret'), 'key-2');
    for (const wrong of ['', 'k1', 'k1-alpha-secre', 'k1-alpha-secretX', 'K1-ALPHA-SECRET', ' k1-alpha-secret', 'k2-beta-secret\n']) {
      assert.equal(keys.match(wrong), undefined, JSON.stringify(wrong));
    }
  });

  test('a repeated key keeps the id of its first occurrence', () => {
    assert.equal(new ClientKeys(['same', 'same']).match('same'), 'key-1');
  });

  test('no keys: disabled, and nothing matches', () => {
    const keys = new ClientKeys([]);
    assert.equal(keys.enabled, false);
    assert.equal(keys.match(''), undefined);
    assert.equal(keys.match('anything'), undefined);
  });
});

describe('FailedAuthThrottle', () => {
  test('refuses an address for the rest of its minute once it failed perMinute times; others are not affected', () => {
    let now = 1_000_000;
    const throttle = new FailedAuthThrottle(3, () => now);
    for (let index = 0; index < 3; index++) {
      throttle.check('10.0.0.1');
      throttle.recordFailure('10.0.0.1');
      now += 1000;
    }
    const refusal = (() => {
      try {
        throttle.check('10.0.0.1');
      } catch (error) {
        return error as GatewayError;
      }
      return undefined;
    })();
    assert.equal(refusal?.code, 'rate_limited');
    assert.equal(refusal?.retryAfter, 57, 'the window began at the first failure');
    throttle.check('10.0.0.2');
    now += 57_000;
    throttle.check('10.0.0.1');
  });

  test('spraying addresses cannot flush it: a throttled address stays refused, and past the table the rest share one ceiling', () => {
    let now = 1_000_000;
    const throttle = new FailedAuthThrottle(10, () => now);
    const refused = (address: string) => {
      try {
        throttle.check(address);
        return false;
      } catch (error) {
        assert.equal((error as GatewayError).code, 'rate_limited');
        return true;
      }
    };
    for (let index = 0; index < 10; index++) throttle.recordFailure('198.51.100.7');
    assert.equal(refused('198.51.100.7'), true);
    // 10,050 addresses guess once each within the minute (the spray that flushed the old table).
    for (let index = 0; index < 10_050; index++) {
      const address = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
      if (!refused(address)) throttle.recordFailure(address);
    }
    assert.equal(throttle.trackedAddresses, 10_000, 'bounded: the table holds at most its size');
    assert.equal(refused('198.51.100.7'), true, 'the guesser is still refused');
    assert.equal(refused('10.0.0.5'), false, 'a tracked address with one failure is not');
    // The addresses that found no room shared one window: it is used up, so any new one is refused.
    assert.equal(refused('203.0.113.99'), true);
    now += 60_000;
    assert.equal(refused('198.51.100.7'), false, 'every window ends after its minute');
    assert.equal(refused('203.0.113.99'), false);
    throttle.recordFailure('203.0.113.99');
    assert.equal(throttle.trackedAddresses, 1, 'the ended windows are forgotten');
  });

  test('0 per minute never throttles', () => {
    const throttle = new FailedAuthThrottle(0);
    assert.equal(throttle.enabled, false);
  });
});

test('failed authentications are throttled per address: 429 with Retry-After after 10 a minute, even for the right key', async (t) => {
  const { app, vtrix } = await startStack(t, { env: KEYS });
  vtrix.setTask('task_auth101', { variant: 'model', timeline: DONE });
  const from = (remoteAddress: string, authorization?: string) => ({
    url: '/tasks/vtrix:task_auth101',
    remoteAddress,
    headers: authorization === undefined ? {} : { authorization },
  });
  for (let index = 0; index < 10; index++) {
    assertProblem(await app.inject(from('192.0.2.10', `Bearer guess-${index}`)), 401, 'unauthorized');
  }
  const throttled = await app.inject(from('192.0.2.10', 'Bearer guess-10'));
  assertProblem(throttled, 429, 'rate_limited');
  const retryAfter = Number(header(throttled, 'retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // A right guess would otherwise stand out among the 429s: the key is not looked at.
  assertProblem(await app.inject(from('192.0.2.10', 'Bearer k1-alpha-secret')), 429, 'rate_limited');
  assertProblem(await app.inject(from('192.0.2.10')), 429, 'rate_limited');
  // Another address is unaffected.
  assert.equal((await app.inject(from('192.0.2.11', 'Bearer k1-alpha-secret'))).statusCode, 200);
  assertProblem(await app.inject(from('192.0.2.11', 'Bearer guess')), 401, 'unauthorized');
  assert.equal(vtrix.hits(), 1);
});

test('no Authorization header: 401 unauthorized with a Bearer challenge', async (t) => {
  const { app } = await startStack(t, { env: KEYS });
  const response = await app.inject({ url: '/tasks/task_abc001' });
  assertProblem(response, 401, 'unauthorized');
  assert.match(header(response, 'www-authenticate') ?? '', /^Bearer\b/);
});

test('a wrong key, another scheme or a malformed header is refused, without echoing it', async (t) => {
  const { app } = await startStack(t, { env: KEYS, configure: UNTHROTTLED });
  const refused = [
    'Bearer wrong-key-guess',
    'Bearer k1-alpha-secre',
    'Bearer k1-alpha-secret,k2-beta-secret',
    'Bearer k1-alpha-secret k2-beta-secret',
    'Basic azEtYWxwaGEtc2VjcmV0Og==',
    'Basic k1-alpha-secret',
    'Token k1-alpha-secret',
    'Bearer',
    'Bearer ',
    'k1-alpha-secret',
    'Bearerk1-alpha-secret',
    '',
  ];
  for (const authorization of refused) {
    const response = await app.inject({ url: '/tasks/task_abc001', headers: { authorization } });
    assertProblem(response, 401, 'unauthorized');
    assert.match(header(response, 'www-authenticate') ?? '', /^Bearer\b/, authorization);
    for (const fragment of ['wrong-key-guess', 'alpha-secre', 'beta-secret', 'azEtYWxwaGEtc2VjcmV0']) {
      assert.ok(!response.body.includes(fragment), response.body);
    }
  }
});

test('either configured key is accepted (the scheme is case-insensitive)', async (t) => {
  const { app, vtrix } = await startStack(t, { env: KEYS });
  vtrix.setTask('task_auth001', { variant: 'model', timeline: DONE });
  for (const authorization of ['Bearer k1-alpha-secret', 'Bearer k2-beta-secret', 'bearer k1-alpha-secret']) {
    const response = await app.inject({ url: '/tasks/vtrix:task_auth001', headers: { authorization } });
    assert.equal(response.statusCode, 200, `${authorization}: ${response.body}`);
    assert.equal(TaskSchema.parse(json(response)).status, 'succeeded');
  }
});

test('the SSE route needs the key too, and answers 401 as problem+json, not as a stream', async (t) => {
  const { app, vtrix } = await startStack(t, { env: KEYS });
  vtrix.setTask('task_auth002', { variant: 'model', timeline: DONE });
  assertProblem(await app.inject({ url: '/tasks/vtrix:task_auth002/events' }), 401, 'unauthorized');
  assertProblem(
    await app.inject({ url: '/tasks/vtrix:task_auth002/events', headers: { authorization: 'Bearer nope' } }),
    401,
    'unauthorized',
  );
  const allowed = await app.inject({ url: '/tasks/vtrix:task_auth002/events', headers: { authorization: 'Bearer k2-beta-secret' } });
  assert.equal(allowed.statusCode, 200);
  assert.match(header(allowed, 'content-type') ?? '', /^text\/event-stream/);
  assert.match(allowed.body, /^id: [\w-]+\nevent: task\n/);
});

test('health, readiness, metrics, the spec and the docs stay open', async (t) => {
  const { app } = await startStack(t, { env: KEYS });
  const open = {
    '/healthz': /application\/json/,
    '/readyz': /application\/json/,
    '/metrics': /text\/plain/,
    '/openapi.json': /application\/json/,
    '/docs': /text\/html/,
  };
  for (const [url, type] of Object.entries(open)) {
    const response = await app.inject({ url });
    assert.equal(response.statusCode, 200, `${url}: ${response.body.slice(0, 200)}`);
    assert.match(header(response, 'content-type') ?? '', type, url);
    assert.equal(header(response, 'www-authenticate'), undefined, url);
  }
});

test('a refused request never reaches a provider', async (t) => {
  const { app, vtrix, gravitex } = await startStack(t, { env: KEYS, configure: UNTHROTTLED });
  const ids = ['task_abc001', 'd758n65e878c73cmdg20', 'video_69095b4ce0048190893a01510c0c98b0', 'vtrix:task_x', 'gravitex:task_y'];
  for (const id of ids) {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic Zm9vOmJhcg==' }]) {
      assertProblem(await app.inject({ url: `/tasks/${id}`, headers }), 401, 'unauthorized');
      assertProblem(await app.inject({ url: `/tasks/${id}?wait=30`, headers }), 401, 'unauthorized');
      assertProblem(await app.inject({ url: `/tasks/${id}/events`, headers }), 401, 'unauthorized');
    }
  }
  assert.equal(vtrix.hits(), 0);
  assert.equal(gravitex.hits(), 0);
});

test('without TASKGATE_API_KEYS the task API is open', async (t) => {
  const { app, vtrix } = await startStack(t, { env: { TASKGATE_API_KEYS: ' , ' } });
  vtrix.setTask('task_open001', { variant: 'model', timeline: DONE });
  const response = await app.inject({ url: '/tasks/vtrix:task_open001' });
  assert.equal(response.statusCode, 200);
  // A stray Authorization header is ignored, not checked.
  const withHeader = await app.inject({ url: '/tasks/vtrix:task_open001', headers: { authorization: 'Bearer whatever' } });
  assert.equal(withHeader.statusCode, 200);
});

describe('the boot warning about weak client keys', () => {
  test('names each key shorter than 16 characters by its place in the list, never by its text', () => {
    assert.deepEqual(clientKeyWarnings(['a-random-key-of-32-characters-00', 'another-long-random-key-77']), []);
    const [warning] = clientKeyWarnings(['a-random-key-of-32-characters-00', 'sunshine1', 'fifteen-chars!!']);
    assert.match(warning!, /keys 2, 3 of 3 are shorter than 16 characters/);
    assert.ok(!warning!.includes('sunshine1') && !warning!.includes('fifteen'), warning);
    assert.match(clientKeyWarnings(['sixteen-chars!!!', 'short'])[0]!, /key 2 of 2 is shorter/);
    assert.match(clientKeyWarnings([])[0]!, /TASKGATE_API_KEYS is not set/);
  });

  test('the real server logs it at boot', async (t) => {
    const gateway = await startGatewayProcess({ TASKGATE_API_KEYS: 'sunshine1,a-random-key-of-32-characters-00' });
    t.after(async () => {
      gateway.child.kill('SIGKILL');
      await gateway.exited;
    });
    const warnings = gateway.stdout().map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level === 40);
    assert.ok(warnings.some((line) => /key 1 of 2 is shorter than 16 characters/.test(line.msg)), JSON.stringify(warnings));
    assert.ok(!gateway.stdout().join('\n').includes('sunshine1'), 'the key itself is never logged');
  });
});
