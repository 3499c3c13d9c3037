import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { renderSpec, SPEC_PATH } from '../src/spec.js';

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
