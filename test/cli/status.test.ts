/**
 * `taskgate status` as a process against a real gateway: the three output modes, the
 * problem and unreachable exit codes, and the key that travels but is never shown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { closedPort, runCli, startGateway } from '../helpers/cli.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];

test('status --output text shows the seed layout with times in the local time zone', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_text0001', {
    variant: 'model',
    timeline: [{ atMs: 0, status: 'in_progress', progress: 42, providerStatus: 'processing' }], model: 'spark_dance_v2_0' });
  const direct = (await (await request(`${url}/tasks/task_text0001`)).body.json()) as { created_at: string };
  // Kolkata is UTC+05:30 all year: the half hour shows the offset is applied, not just printed.
  const run = await runCli(['status', 'task_text0001', '--gateway', url], { env: { TZ: 'Asia/Kolkata' } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const lines = run.stdout.trimEnd().split('\n');
  const created = new Date(Date.parse(direct.created_at) + 5.5 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
  assert.deepEqual(lines.slice(0, 6), [
    'Task: task_text0001',
    'Provider: vtrix',
    'Status: in_progress (processing)',
    'Progress: 42%',
    'Model: spark_dance_v2_0',
    `Created: ${created} +05:30`,
  ]);
  assert.match(lines[6] ?? '', /^Elapsed: \d+s$/);
  assert.equal(lines.length, 7, 'a running task has neither URL nor Error');
});

test('status text of a succeeded task ends with its URL, of a failed one with its error', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_text0002', { variant: 'model', timeline: DONE });
  stack.vtrix.setTask('task_text0003', { variant: 'model', timeline: [{ atMs: 0, status: 'failed' }] });
  const succeeded = await runCli(['status', 'task_text0002', '--gateway', url]);
  assert.equal(succeeded.code, 0);
  assert.match(succeeded.stdout, /^Status: succeeded \(completed\)$/m);
  assert.match(succeeded.stdout, /^Progress: 100%$/m);
  const direct = (await (await request(`${url}/tasks/task_text0002`)).body.json()) as { url: string };
  assert.ok(succeeded.stdout.endsWith(`\nURL: ${direct.url}\n`), succeeded.stdout);

  const failed = await runCli(['status', 'task_text0003', '--gateway', url]);
  assert.equal(failed.code, 0, 'status reads any state: failed is not an error of the command');
  assert.match(failed.stdout, /^Status: failed$/m);
  assert.match(failed.stdout, /\nError: \S+: .+\n$/);
  assert.doesNotMatch(failed.stdout, /^URL:/m);
});

test('status --output json prints the Task exactly as the gateway sent it, as one line', async (t) => {
  const { url } = await startGateway(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const run = await runCli(['status', id, '--output', 'json', '--gateway', url]);
  assert.equal(run.code, 0);
  const direct = Buffer.from(await (await request(`${url}/tasks/${id}`)).body.arrayBuffer());
  assert.ok(run.stdoutBytes.equals(Buffer.concat([direct, Buffer.from('\n')])), `${run.stdout}\n!=\n${direct.toString()}`);
});

test('status --output url prints only the URL, and nothing while there is none', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_url00001', { variant: 'model', timeline: DONE });
  stack.vtrix.setTask('task_url00002', { variant: 'model', timeline: [{ atMs: 0, status: 'queued' }] });
  const done = await runCli(['status', 'task_url00001', '--output', 'url', '--gateway', url]);
  assert.equal(done.code, 0);
  const direct = (await (await request(`${url}/tasks/task_url00001`)).body.json()) as { url: string };
  assert.match(direct.url, /^http:\/\//);
  assert.equal(done.stdout, `${direct.url}\n`);
  const queued = await runCli(['status', 'task_url00002', '--output', 'url', '--gateway', url]);
  assert.equal(queued.code, 0);
  assert.equal(queued.stdout, '');
});

test('a problem from the gateway is exit 3 with its code and detail on stderr', async (t) => {
  const { url } = await startGateway(t);
  const direct = (await (await request(`${url}/tasks/task_missing_cli`)).body.json()) as { code: string; detail: string };
  const run = await runCli(['status', 'task_missing_cli', '--gateway', url]);
  assert.equal(run.code, 3);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, `taskgate: task_not_found: ${direct.detail}\n`);

  const invalid = await runCli(['status', 'not a valid id', '--gateway', url]);
  assert.equal(invalid.code, 3);
  assert.match(invalid.stderr, /^taskgate: invalid_task_id: /);
});

test('an unreachable gateway is exit 4', async () => {
  const port = await closedPort();
  const run = await runCli(['status', 'task_abc001'], { env: { TASKGATE_URL: `http://127.0.0.1:${port}` } });
  assert.equal(run.code, 4);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, new RegExp(`^taskgate: unreachable: nothing answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
});

test('TASKGATE_URL names the gateway and --gateway overrides it', async (t) => {
  const { url } = await startGateway(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const fromEnv = await runCli(['status', id, '--output', 'url'], { env: { TASKGATE_URL: url } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  const port = await closedPort();
  const overridden = await runCli(['--gateway', url, 'status', id, '--output', 'url'], { env: { TASKGATE_URL: `http://127.0.0.1:${port}` } });
  assert.equal(overridden.code, 0, overridden.stderr);
  assert.equal(overridden.stdout, fromEnv.stdout);
});

test('TASKGATE_API_KEY is sent as a Bearer key and never printed', async (t) => {
  const key = 'cli-client-key-6d1f0a';
  const { url } = await startGateway(t, { env: { TASKGATE_API_KEYS: key } });
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const keyed = await runCli(['status', id, '--output', 'url'], { env: { TASKGATE_URL: url, TASKGATE_API_KEY: key } });
  assert.equal(keyed.code, 0, keyed.stderr);

  const wrongKey = 'cli-wrong-key-88c2e1';
  const refused = await runCli(['status', id], { env: { TASKGATE_URL: url, TASKGATE_API_KEY: wrongKey } });
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^taskgate: unauthorized: /);
  assert.ok(!refused.stderr.includes('Set TASKGATE_API_KEY'), 'a key was sent: it is wrong, not missing');
  for (const run of [keyed, refused]) {
    for (const secret of [key, wrongKey]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), 'the key appears nowhere');
    }
  }
  const none = await runCli(['status', id], { env: { TASKGATE_URL: url } });
  assert.equal(none.code, 3);
  assert.match(none.stderr, /^taskgate: unauthorized: .* Set TASKGATE_API_KEY to a client key of this gateway\.\n$/);
});
