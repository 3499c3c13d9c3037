/**
 * `taskgate wait` as a process against a real gateway: long-polls instead of a loop, one
 * stderr line per change off a terminal, exit codes 0/1/3/4/124, retries of transient
 * gateway errors (502, 503 with Retry-After, a reset connection).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { answeredRequests, closedPort, resettingProxy, runCli, startGateway } from '../helpers/cli.js';

/** The change lines without their elapsed-time suffix. */
function changeLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/ \(\d+s\)$/, ''));
}

test('wait follows a task to success with long-polls: one stderr line per change, then the text', async (t) => {
  const { url, stack } = await startGateway(t);
  const id = 'video_cliwait00000000000000000000000001';
  stack.gravitex.setTask(id, {
    variant: 'wrapped',
    // Phases longer than the CLI's 1 s holds, so each one is seen even on a loaded machine.
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: 1500, status: 'in_progress', progress: 40 },
      { atMs: 3500, status: 'succeeded' },
    ],
  });
  const run = await runCli(['wait', id, '--gateway', url]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(changeLines(run.stderr), [`${id}: queued 0%`, `${id}: in_progress 40%`, `${id}: succeeded 100%`]);
  assert.match(run.stdout, new RegExp(`^Task: ${id}\nProvider: gravitex\nStatus: succeeded \\(completed\\)\n`));
  assert.match(run.stdout, /\nURL: http:\/\/\S+\n$/);
  // Held requests: about one per second of waiting. A sleep loop would have made dozens.
  const requests = await answeredRequests(stack, '/tasks/:id');
  assert.ok(requests >= 3 && requests <= 10, `requests to GET /tasks/:id: ${requests}`);
});

test('wait --output json prints the terminal Task exactly as the gateway sent it', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_wjson001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }, { atMs: 600, status: 'succeeded' }] });
  const run = await runCli(['wait', 'task_wjson001', '--output', 'json', '--gateway', url]);
  assert.equal(run.code, 0, run.stderr);
  const direct = Buffer.from(await (await request(`${url}/tasks/task_wjson001`)).body.arrayBuffer());
  assert.ok(run.stdoutBytes.equals(Buffer.concat([direct, Buffer.from('\n')])), `${run.stdout}\n!=\n${direct.toString()}`);
});

test('wait exits 1 when the task fails or is canceled', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_wfail001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 300, status: 'failed' }] });
  const failed = await runCli(['wait', 'task_wfail001', '--gateway', url]);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /^Status: failed$/m);
  assert.match(failed.stdout, /\nError: \S+: .+\n$/);

  const canceled = 'video_clicancel000000000000000000000001';
  stack.gravitex.setTask(canceled, { variant: 'documented', timeline: [{ atMs: 0, status: 'canceled' }] });
  const canceledRun = await runCli(['wait', canceled, '--output', 'url', '--gateway', url]);
  assert.equal(canceledRun.code, 1);
  assert.equal(canceledRun.stdout, '', 'no URL: stdout stays empty');
  assert.match(canceledRun.stderr, new RegExp(`^taskgate: canceled: ${canceled} canceled$`, 'm'));
});

test('wait exits 124 when --timeout passes first, with nothing on stdout', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_wslow001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const run = await runCli(['wait', 'task_wslow001', '--timeout', '1.5', '--gateway', url]);
  assert.equal(run.code, 124);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^taskgate: timeout: --timeout 1\.5 s passed; task_wslow001 is still in_progress \(10%\)$/m);

  const hits = stack.vtrix.hits('task_wslow001');
  const once = await runCli(['wait', 'task_wslow001', '--timeout', '0', '--gateway', url]);
  assert.equal(once.code, 124, '--timeout 0 looks once');
  assert.equal(once.stdout, '');
  // The state it saw, read once: the line names it.
  assert.match(once.stderr, /^taskgate: timeout: --timeout 0 s passed; task_wslow001 is still in_progress \(10%\)$/m);
  assert.ok(stack.vtrix.hits('task_wslow001') - hits <= 1, 'one look, at most one upstream call');
});

test('a 502 from the gateway is retried with backoff until the task is read', async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_wretry01', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  // Three upstream 500s use up one gateway lookup (it retries twice itself): one 502 upstream_error.
  stack.vtrix.injectFault('task_wretry01', { kind: 'status', status: 500, times: 3 });
  const run = await runCli(['wait', 'task_wretry01', '--output', 'url', '--gateway', url]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^task_wretry01: upstream_error, retrying in \ds$/m);
  assert.match(run.stdout, /^http:\/\/\S+\n$/);
});

test("a 503 is retried no sooner than the gateway's Retry-After", async (t) => {
  const { url, stack } = await startGateway(t);
  stack.vtrix.setTask('task_wretry02', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  // Longer than the 1 s the gateway retries by itself: it answers 503 with Retry-After: 2.
  stack.vtrix.injectFault('task_wretry02', { kind: 'rate_limit', retryAfter: 2, times: 1 });
  const started = Date.now();
  const run = await runCli(['wait', 'task_wretry02', '--output', 'url', '--gateway', url]);
  const elapsedMs = Date.now() - started;
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^task_wretry02: upstream_rate_limited, retrying in 2s$/m);
  assert.ok(elapsedMs >= 2000, `asked again after ${elapsedMs} ms, before the 2 s Retry-After`);
});

test('a connection reset on the way to the gateway is retried', async (t) => {
  const { url } = await startGateway(t);
  const proxy = await resettingProxy(t, url, 2);
  const run = await runCli(['wait', 'video_69095b4ce0048190893a01510c0c98b0', '--output', 'url', '--gateway', proxy.url]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(proxy.resetCount(), 2);
  assert.equal(changeLines(run.stderr).filter((line) => /^video_\w+: (ECONNRESET|UND_ERR_SOCKET), retrying in \ds$/.test(line)).length, 2);
  assert.match(run.stdout, /^https:\/\/\S+\n$/);
});

test('permanent problems end the wait at once with exit 3', async (t) => {
  const { url } = await startGateway(t, { unconfigured: ['gravitex'] });
  const missing = await runCli(['wait', 'task_missing_wait', '--gateway', url]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /^taskgate: task_not_found: /m);
  // A 503 that no retry can fix: the gateway has no key for that provider.
  const unconfigured = await runCli(['wait', 'gravitex:video_x', '--gateway', url]);
  assert.equal(unconfigured.code, 3);
  assert.match(unconfigured.stderr, /^taskgate: provider_not_configured: /m);
  assert.doesNotMatch(unconfigured.stderr, /retrying/);
});

test('an unreachable gateway ends the wait at once with exit 4', { timeout: 60_000 }, async () => {
  const port = await closedPort();
  const run = await runCli(['wait', 'task_abc001', '--gateway', `http://127.0.0.1:${port}`]);
  assert.equal(run.code, 4);
  assert.match(run.stderr, /^taskgate: unreachable: nothing answers at /m);
  assert.equal(run.stdout, '');
});
