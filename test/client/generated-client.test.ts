/**
 * The path a frontend team takes, proven end to end: TypeScript types generated from the
 * committed openapi/openapi.json by openapi-typescript (`npm run openapi:types`, run before
 * `npm test` and `npm run typecheck`), openapi-fetch with those types against a live gateway
 * on port 0 and the simulators, and every answer checked against the spec with ajv, so the
 * test fails when the server and its document disagree.
 */
import assert from 'node:assert/strict';
import { before, test, type TestContext } from 'node:test';
import createClient, { type Middleware } from 'openapi-fetch';
import type { Problem } from '../../schemas/problem.js';
import { SUCCEEDED_TASK } from '../../schemas/examples.js';
import type { Task, TaskStatus } from '../../schemas/task.js';
import type { ProblemCode } from '../../src/errors.js';
import { listen, readEventStream } from '../helpers/http.js';
import { SpecValidator } from '../helpers/spec.js';
import { startStack, withPollInterval, type StackOptions } from '../helpers/stack.js';
import type { components, paths } from './generated/openapi.js';

// Compile time: the generated types are exactly the zod types the server is built on.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const taskTypesAgree: Equal<components['schemas']['Task'], Task> = true;
const problemTypesAgree: Equal<components['schemas']['Problem'], Problem> = true;
void [taskTypesAgree, problemTypesAgree];

let spec: SpecValidator;
before(async () => {
  spec = await SpecValidator.load();
});

/** An openapi-fetch middleware that fails the call when an answer breaks the spec. */
function conformsToSpec(checked: string[]): Middleware {
  return {
    async onResponse({ request, response, schemaPath }) {
      const errors = spec.responseErrors({
        method: request.method,
        path: schemaPath,
        status: response.status,
        contentType: response.headers.get('content-type'),
        body: await response.clone().text(),
      });
      if (errors.length > 0) throw new assert.AssertionError({ message: `the answer breaks the spec:\n${errors.join('\n')}` });
      checked.push(`${request.method} ${schemaPath} ${response.status}`);
    },
  };
}

/** A live gateway with simulators, and a generated client whose every answer is checked. */
async function startClient(t: TestContext, options: StackOptions & { headers?: Record<string, string> } = {}) {
  const stack = await startStack(t, options);
  const baseUrl = await listen(stack.app);
  const checked: string[] = [];
  const client = createClient<paths>({ baseUrl, ...(options.headers === undefined ? {} : { headers: options.headers }) });
  client.use(conformsToSpec(checked));
  return { ...stack, baseUrl, client, checked };
}

/** What a UI does with a status: the switch only compiles while the generated union is the contract's. */
function label(status: components['schemas']['TaskStatus']): string {
  switch (status) {
    case 'queued':
      return 'Waiting';
    case 'in_progress':
      return 'Generating';
    case 'succeeded':
      return 'Ready';
    case 'failed':
      return 'Failed';
    case 'canceled':
      return 'Canceled';
    default: {
      const unexpected: never = status;
      return unexpected;
    }
  }
}

test('a generated client fetches a task and reads its typed status', async (t) => {
  const { client, vtrix, checked } = await startClient(t);
  vtrix.setTask('d758n65e878c73cmdg20', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });

  const { data, error, response } = await client.GET('/tasks/{id}', { params: { path: { id: 'd758n65e878c73cmdg20' } } });
  assert.equal(error, undefined);
  assert.ok(data, 'a 200 carries the task');
  const status: TaskStatus = data.status;
  assert.equal(status, 'succeeded');
  assert.equal(label(data.status), 'Ready');
  assert.equal(data.provider, 'vtrix');
  assert.match(data.url ?? '', /^https?:\/\//);
  assert.equal(data.outputs[0]?.type, 'video');

  // The ETag round trip a polling UI makes: the 304 is documented too.
  const etag = response.headers.get('etag');
  assert.ok(etag);
  const again = await client.GET('/tasks/{id}', {
    params: { path: { id: 'd758n65e878c73cmdg20' }, header: { 'if-none-match': etag } },
  });
  assert.equal(again.response.status, 304);
  assert.deepEqual(checked, ['GET /tasks/{id} 200', 'GET /tasks/{id} 304']);
});

test('a problem answer arrives as a typed error', async (t) => {
  const { client, checked } = await startClient(t);

  const missing = await client.GET('/tasks/{id}', { params: { path: { id: 'vtrix:task_missing1' } } });
  assert.equal(missing.data, undefined);
  assert.ok(missing.error, 'a 404 is an error');
  const code: ProblemCode = missing.error.code;
  assert.equal(code, 'task_not_found');
  assert.equal(missing.error.status, 404);
  assert.equal(missing.error.provider, 'vtrix');
  assert.equal(missing.error.request_id, missing.response.headers.get('x-request-id'));

  const malformed = await client.GET('/tasks/{id}', { params: { path: { id: 'has space' } } });
  assert.equal(malformed.error?.code, 'invalid_task_id');

  const badWait = await client.GET('/tasks/{id}', { params: { path: { id: 'task_abc001' }, query: { wait: 61 } } });
  assert.equal(badWait.error?.code, 'invalid_request');
  assert.deepEqual(checked, ['GET /tasks/{id} 404', 'GET /tasks/{id} 400', 'GET /tasks/{id} 400']);
});

test('long-poll with wait through the generated client', async (t) => {
  const { client, vtrix, checked } = await startClient(t, { configure: (config) => withPollInterval(config, 50) });
  const timeline = [
    { atMs: 0, status: 'in_progress' as const, progress: 10 },
    { atMs: 300, status: 'succeeded' as const },
  ];
  vtrix.setTask('task_cwait01', { variant: 'model', timeline });
  vtrix.setTask('task_cwait02', { variant: 'model', timeline });

  const started = Date.now();
  const byQuery = await client.GET('/tasks/{id}', { params: { path: { id: 'task_cwait01' }, query: { wait: 10 } } });
  assert.equal(byQuery.data?.status, 'succeeded');
  assert.ok(Date.now() - started < 5000, 'answered when the task finished, not when the wait ran out');

  const byHeader = await client.GET('/tasks/{id}', { params: { path: { id: 'task_cwait02' }, header: { prefer: 'wait=10' } } });
  assert.equal(byHeader.data?.status, 'succeeded');
  assert.equal(byHeader.response.headers.get('preference-applied'), 'wait=10');
  assert.deepEqual(checked, ['GET /tasks/{id} 200', 'GET /tasks/{id} 200']);
});

test('a batch through the generated client: each item narrows on ok', async (t) => {
  const { client, vtrix, checked } = await startClient(t);
  vtrix.setTask('task_cbatch1', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
  const ids = ['task_cbatch1', 'video_69095b4ce0048190893a01510c0c98b0', 'vtrix:task_missing1', 'bad id!'];

  const { data, error } = await client.POST('/tasks/batch', { body: { ids } });
  assert.equal(error, undefined);
  assert.ok(data);
  const summary = data.results.map((item) => (item.ok ? `${item.id}=${item.task.status}` : `${item.id}!${item.problem.code}`));
  assert.deepEqual(summary, [
    'task_cbatch1=in_progress',
    'video_69095b4ce0048190893a01510c0c98b0=succeeded',
    'vtrix:task_missing1!task_not_found',
    'bad id!!invalid_task_id',
  ]);

  const empty = await client.POST('/tasks/batch', { body: { ids: [] } });
  assert.equal(empty.error?.code, 'invalid_request');
  assert.deepEqual(checked, ['POST /tasks/batch 200', 'POST /tasks/batch 400']);
});

test('with TASKGATE_API_KEYS the bearerAuth scheme is what the client sends', async (t) => {
  const keys = { TASKGATE_API_KEYS: 'client-key-1' };
  const anonymous = await startClient(t, { env: keys });
  const refused = await anonymous.client.GET('/tasks/{id}', { params: { path: { id: 'video_69095b4ce0048190893a01510c0c98b0' } } });
  assert.equal(refused.error?.code, 'unauthorized');

  const authorized = await startClient(t, { env: keys, headers: { authorization: 'Bearer client-key-1' } });
  const task = await authorized.client.GET('/tasks/{id}', { params: { path: { id: 'video_69095b4ce0048190893a01510c0c98b0' } } });
  assert.equal(task.data?.status, 'succeeded');
  assert.deepEqual([...anonymous.checked, ...authorized.checked], ['GET /tasks/{id} 401', 'GET /tasks/{id} 200']);
});

test('every task event of the SSE stream is a Task as the spec defines it', async (t) => {
  const { baseUrl, vtrix } = await startClient(t, { configure: (config) => withPollInterval(config, 50) });
  vtrix.setTask('task_csse001', {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: 150, status: 'in_progress', progress: 50 },
      { atMs: 300, status: 'succeeded' },
    ],
  });
  const stream = await readEventStream(`${baseUrl}/tasks/task_csse001/events`);
  assert.deepEqual(
    spec.responseErrors({
      method: 'GET',
      path: '/tasks/{id}/events',
      status: stream.statusCode,
      contentType: String(stream.headers['content-type']),
      body: '',
    }),
    [],
  );
  assert.ok(stream.events.length >= 2);
  for (const event of stream.events) {
    assert.equal(event.event, 'task');
    assert.deepEqual(spec.componentErrors('Task', JSON.parse(event.data)), [], event.data);
  }
});

test('the spec check fails when a server disagrees with the document', async () => {
  // Wrong objects: each one must be refused, or the checks above prove nothing.
  const wrongTasks: Array<[string, unknown]> = [
    ['an unknown status', { ...SUCCEEDED_TASK, status: 'done' }],
    ['a missing field', { ...SUCCEEDED_TASK, provider: undefined }],
    ['a field outside the contract', { ...SUCCEEDED_TASK, cost: 3 }],
    ['a progress over 100', { ...SUCCEEDED_TASK, progress: 140 }],
    ['a time that is not RFC 3339', { ...SUCCEEDED_TASK, created_at: '10/04/2026' }],
  ];
  for (const [what, task] of wrongTasks) {
    assert.notDeepEqual(spec.componentErrors('Task', JSON.parse(JSON.stringify(task))), [], what);
  }
  assert.notDeepEqual(spec.componentErrors('BatchItem', { id: 'x', ok: true, problem: {} }), []);
  assert.notDeepEqual(spec.componentErrors('Problem', { type: '/problems/x', title: 'x', status: 400, detail: 'x', code: 'nope', request_id: 'r' }), []);

  // And through the client: a "gateway" answering a wrong Task makes the call fail.
  const checked: string[] = [];
  const lying = createClient<paths>({
    baseUrl: 'http://gateway.invalid',
    fetch: async () =>
      new Response(JSON.stringify({ ...SUCCEEDED_TASK, status: 'done' }), { status: 200, headers: { 'content-type': 'application/json' } }),
  });
  lying.use(conformsToSpec(checked));
  await assert.rejects(lying.GET('/tasks/{id}', { params: { path: { id: 'task_abc001' } } }), /status must be equal to one of the allowed values/);

  const undocumented = createClient<paths>({
    baseUrl: 'http://gateway.invalid',
    fetch: async () => new Response('<html>teapot</html>', { status: 418, headers: { 'content-type': 'text/html' } }),
  });
  undocumented.use(conformsToSpec(checked));
  await assert.rejects(undocumented.GET('/tasks/{id}', { params: { path: { id: 'task_abc001' } } }), /418 is not in the spec/);
  assert.deepEqual(checked, []);
});
