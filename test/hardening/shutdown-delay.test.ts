/**
 * `shutdownDelayMs` with the real server process: on SIGTERM `/readyz` turns 503 at once
 * while `/tasks` keeps being answered for the delay (a load balancer takes the replica out
 * of rotation first), then the gateway stops accepting and exits 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, request } from 'undici';
import { startSimulators } from '../helpers/stack.js';
import { startGatewayProcess, waitFor, within } from './support.js';

const DELAY_MS = 1500;

/** A GET on a new connection: the status code, or the connection error's code. */
async function statusOf(url: string): Promise<number | string> {
  try {
    const response = await request(url, { headersTimeout: 1000, bodyTimeout: 1000, reset: true });
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

test('SIGTERM with shutdownDelayMs: readiness 503 at once, tasks answered during the delay, then exit 0', async (t) => {
  const { simulators, env } = await startSimulators(t);
  simulators.vtrix.setTask('task_delay01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-delay-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const configFile = join(directory, 'taskgate.json');
  writeFileSync(configFile, JSON.stringify({ shutdownDelayMs: DELAY_MS }));
  const gateway = await startGatewayProcess({ ...env, TASKGATE_CONFIG: configFile });
  t.after(() => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  });
  // A client already connected (keep-alive), as a balancer's pooled connection would be.
  const pooled = new Client(gateway.url);
  t.after(() => pooled.destroy());
  const warm = await pooled.request({ path: '/tasks/vtrix:task_delay01', method: 'GET' });
  await warm.body.dump();
  assert.equal(await statusOf(`${gateway.url}/readyz`), 200);

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');
  // The signal reaches the process asynchronously: a request sent in the same instant may come first.
  const readiness = await waitFor(() => statusOf(`${gateway.url}/readyz`), (value) => value !== 200, DELAY_MS);
  assert.equal(readiness, 503);
  assert.ok(Date.now() - signalledAt < DELAY_MS / 2, `readiness turned 503 ${Date.now() - signalledAt} ms after SIGTERM`);

  // Still serving, on new connections and on the pooled one, until the delay is over.
  const served: number[] = [];
  while (Date.now() - signalledAt < DELAY_MS - 400) {
    served.push((await statusOf(`${gateway.url}/tasks/vtrix:task_delay01`)) as number);
    const onPooled = await pooled.request({ path: '/tasks/vtrix:task_delay01', method: 'GET' });
    await onPooled.body.dump();
    served.push(onPooled.statusCode);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(served.length >= 4);
  assert.deepEqual(served, served.map(() => 200));

  const code = await within(gateway.exited, DELAY_MS + 8000, 'still running');
  assert.equal(code, 0, gateway.stderr());
  assert.ok(Date.now() - signalledAt >= DELAY_MS, `exited ${Date.now() - signalledAt} ms after SIGTERM, before the delay was over`);
  assert.equal(await statusOf(`${gateway.url}/healthz`), 'ECONNREFUSED');
});
