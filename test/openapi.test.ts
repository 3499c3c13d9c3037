import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { renderSpec, SPEC_PATH } from '../src/spec.js';
import { SpecValidator } from './helpers/spec.js';
import { startStack } from './helpers/stack.js';

test('the committed openapi/openapi.json is exactly what the gateway serves', async () => {
  const committed = await readFile(SPEC_PATH, 'utf8');
  assert.equal(committed, await renderSpec(), 'run `npm run openapi:write` and commit the result');
});

test('the spec names its components and documents every error status as problem+json', async () => {
  const spec = JSON.parse(await renderSpec());
  for (const name of ['Task', 'TaskOutput', 'TaskError', 'Problem']) assert.ok(spec.components.schemas[name], name);
  const getTask = spec.paths['/tasks/{id}'].get;
  assert.equal(getTask.operationId, 'getTask');
  for (const status of ['400', '401', '404', '429', '502', '503', '504']) {
    const content = getTask.responses[status]?.content?.['application/problem+json'];
    assert.ok(content, `status ${status}`);
    assert.equal(content.schema.$ref, '#/components/schemas/Problem');
  }
  assert.deepEqual(spec.components.schemas.TaskStatus.enum, ['queued', 'in_progress', 'succeeded', 'failed', 'canceled']);
});

type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown;
  responses: Record<string, { description: string; content?: Record<string, { examples?: Record<string, { value: unknown }> }> }>;
};

async function operations(): Promise<Array<[string, Operation]>> {
  const spec = JSON.parse(await renderSpec());
  return Object.entries(spec.paths as Record<string, Record<string, Operation>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, Operation] => [`${method.toUpperCase()} ${path}`, operation]),
  );
}

test('every operation is named, summarized, described and tagged, and no response is a "Default Response"', async () => {
  for (const [name, operation] of await operations()) {
    assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, name);
    assert.ok(operation.summary, name);
    assert.ok(operation.description, name);
    assert.equal(operation.tags?.length, 1, name);
    for (const [status, response] of Object.entries(operation.responses)) {
      assert.notEqual(response.description, 'Default Response', `${name} ${status}`);
    }
  }
});

test('the /tasks and /mcp operations take a bearer key or nothing, a link token where a browser calls them; operations endpoints never ask', async () => {
  const spec = JSON.parse(await renderSpec());
  assert.deepEqual(spec.components.securitySchemes.bearerAuth.type, 'http');
  assert.deepEqual(spec.components.securitySchemes.bearerAuth.scheme, 'bearer');
  assert.match(spec.components.securitySchemes.bearerAuth.description, /TASKGATE_API_KEYS/);
  assert.deepEqual({ ...spec.components.securitySchemes.linkToken, description: undefined }, { type: 'apiKey', in: 'query', name: 'token', description: undefined });
  const linked = new Set(['getTask', 'headTask', 'streamTaskEvents', 'headStreamTaskEvents', 'getTaskContent', 'headTaskContent']);
  for (const [name, operation] of await operations()) {
    const expected = !name.includes(' /tasks') && !name.endsWith(' /mcp') ? [] : linked.has(operation.operationId ?? '') ? [{ bearerAuth: [] }, { linkToken: [] }, {}] : [{ bearerAuth: [] }, {}];
    assert.deepEqual(operation.security, expected, name);
  }
});

test('the batch schemas are named components, and request-only schemas keep their plain name', async () => {
  const spec = JSON.parse(await renderSpec());
  const names = Object.keys(spec.components.schemas);
  for (const name of ['BatchRequest', 'BatchResult', 'BatchItem', 'BatchTaskItem', 'BatchProblemItem']) assert.ok(names.includes(name), name);
  assert.deepEqual(names.filter((name) => name.endsWith('Input')), []);
  const batch = spec.paths['/tasks/batch'].post;
  assert.equal(batch.operationId, 'batchGetTasks');
  assert.equal(batch.requestBody.content['application/json'].schema.$ref, '#/components/schemas/BatchRequest');
  assert.equal(batch.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/BatchResult');
});

test('every example in the spec is valid against its own schema', async () => {
  const spec = await SpecValidator.load();
  let examples = 0;
  for (const [name, operation] of await operations()) {
    const [method, path] = name.split(' ') as [string, string];
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const [mediaType, media] of Object.entries(response.content ?? {})) {
        for (const [exampleName, example] of Object.entries(media.examples ?? {})) {
          const body = JSON.stringify(example.value);
          assert.deepEqual(spec.responseErrors({ method, path, status: Number(status), contentType: mediaType, body }), [], `${name} ${status} ${exampleName}`);
          examples++;
        }
      }
    }
  }
  assert.ok(examples >= 30, `only ${examples} examples`);
  const getTask = spec.spec.paths['/tasks/{id}']!.get!.responses['200']!.content!['application/json'] as { examples: Record<string, { value: { status: string } }> };
  assert.deepEqual(
    Object.values(getTask.examples).map((example) => example.value.status),
    ['in_progress', 'succeeded', 'succeeded', 'failed'],
  );
  // One succeeded example is of a gateway with the result archive on: gateway URLs, archived_at set.
  assert.deepEqual(
    Object.values(getTask.examples).map((example) => (example.value as { archived_at?: string | null }).archived_at !== null),
    [false, false, true, false],
  );
});

test('a gateway serves the committed document whatever its configuration', async (t) => {
  const committed = JSON.parse(await readFile(SPEC_PATH, 'utf8'));
  const { app } = await startStack(t, {
    env: { TASKGATE_API_KEYS: 'spec-key', TASKGATE_CORS_ORIGINS: 'https://app.example', TASKGATE_RATE_LIMIT: '0' },
    unconfigured: ['gravitex'],
  });
  const served = await app.inject({ url: '/openapi.json' });
  assert.equal(served.statusCode, 200);
  assert.deepEqual(JSON.parse(served.body), committed);
});
