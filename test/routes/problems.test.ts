import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROBLEM_GUIDE } from '../../schemas/problem-guide.js';
import { PROBLEM_CATALOG, PROBLEM_CODES } from '../../schemas/problem.js';
import { assertProblem } from '../hardening/support.js';
import { json, startStack } from '../helpers/stack.js';

test('the type URI of a problem answer resolves to a page saying what it means and what to do', async (t) => {
  const { app } = await startStack(t);
  const problem = json<{ type: string }>(await app.inject({ url: '/tasks/not-a-routable-id' }));
  assert.equal(problem.type, '/problems/no_provider_for_task_id');
  const page = await app.inject({ url: problem.type, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.ok(page.body.includes('<h1>No provider for this task id</h1>'));
  assert.ok(page.body.includes('Qualify the id'));
});

test('every code has its page, as HTML and as JSON', async (t) => {
  const { app } = await startStack(t);
  for (const code of PROBLEM_CODES) {
    const html = await app.inject({ url: `/problems/${code}` });
    assert.equal(html.statusCode, 200, code);
    assert.ok(html.body.includes(`<code>${code}</code> · HTTP ${PROBLEM_CATALOG[code].status}`), code);
    const entry = await app.inject({ url: `/problems/${code}`, headers: { accept: 'application/json' } });
    assert.match(String(entry.headers['content-type']), /^application\/json/);
    assert.deepEqual(json(entry), {
      type: `/problems/${code}`,
      code,
      status: PROBLEM_CATALOG[code].status,
      title: PROBLEM_CATALOG[code].title,
      ...PROBLEM_GUIDE[code],
    });
  }
});

test('an unknown code is a 404 problem, prototype names included', async (t) => {
  const { app } = await startStack(t);
  for (const code of ['nope', 'constructor', '__proto__', 'toString']) {
    assertProblem(await app.inject({ url: `/problems/${code}`, headers: { accept: 'application/json' } }), 404, 'not_found');
  }
});
