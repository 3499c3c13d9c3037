/**
 * The dashboard (deploy/grafana/taskgate.json) and the alerting rules
 * (deploy/prometheus/alerts.yml) against a running gateway, so neither can rot: every
 * metric they name is in a live /metrics answer, the rules pass promtool's check and unit
 * tests, and a real Prometheus scraping the gateway answers every panel's query with data.
 * The gateway runs the way every metric exists: fleet mode on its own redis-server,
 * webhooks on, delivered to a real receiver on loopback, and the result archive on, in a
 * temporary folder.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { parseAllowHosts } from '../../src/content/address-guard.js';
import { rawRequest } from '../hardening/support.js';
import { eventually, listen } from '../helpers/http.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startRedis, waitFor } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { newWebhookSecret } from '../helpers/webhook-stack.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'taskgate.json');
const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
/** Debian's package (what .ci/run installs) brings both the server and promtool. */
const INSTALL = 'apt-get install prometheus';
const DONE = [{ atMs: 0, status: 'succeeded' as const, progress: 100 }];
/** Long enough that a failed delivery is still pending (queue depth, oldest age) when Prometheus is asked. */
const WEBHOOK_RETRY_DELAY_MS = 600_000;

interface Panel {
  type: string;
  title: string;
  id: number;
  panels?: Panel[];
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; refId: string }>;
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const allPanels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queryPanels = allPanels.filter((panel) => panel.type !== 'row');

/** Grafana's variables as Prometheus would see them: every instance, a one-minute rate window. */
function forPrometheus(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');
}

/** The taskgate metric names a PromQL text uses (series names; `_bucket` etc. kept). */
function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\btaskgate_[a-z0-9_]+/g) ?? [])];
}

/** Every series name a /metrics answer can have: its samples', and each histogram's `_bucket`, `_sum`, `_count`. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)/.exec(line);
    if (typed !== null) {
      names.add(typed[1]!);
      if (typed[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${typed[1]}${suffix}`);
    } else if (!line.startsWith('#') && line !== '') {
      names.add(line.split(/[{ ]/)[0]!);
    }
  }
  return names;
}

function requireTool(name: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0) assert.fail(`${name} is not installed: ${INSTALL}`);
}

let stack: Stack;
let base: string;
let receiver: Receiver;
let rounds = 0;
const closers: Array<() => Promise<void> | void> = [];
const closable = { after: (close: () => Promise<void> | void) => void closers.push(close) };

/** A webhook on a finished task is delivered at once: one to a receiver path answering 200, one to a path answering 500 (then pending its retry). */
async function deliverWebhooks(): Promise<void> {
  rounds += 1;
  for (const path of ['/delivered', '/failing']) {
    const registered = await request(`${base}/tasks/vtrix:task_mon_done/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}${path}` }),
    });
    const answer = await registered.body.text();
    assert.equal(registered.statusCode, 201, answer);
  }
  await Promise.all([receiver.waitFor('/delivered', rounds), receiver.waitFor('/failing', rounds)]);
}

/** Traffic that gives every panel something to show: answers of each kind, retries, coalescing, waiting, a file, a cut connection, webhooks. */
async function exercise(): Promise<void> {
  const { vtrix } = stack;
  vtrix.setTask('task_mon_done', { variant: 'model', timeline: DONE });
  vtrix.setTask('task_mon_retry', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_mon_retry', { kind: 'status', status: 503, times: 1 });
  vtrix.injectFault('task_mon_fail', { kind: 'status', status: 500 });
  vtrix.setTask('task_mon_odd', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 5, providerStatus: 'pondering' }] });
  vtrix.setTask('task_mon_pair', { variant: 'model', timeline: DONE });
  vtrix.injectFault('task_mon_pair', { kind: 'latency', ms: 200, times: 1 });
  const get = async (path: string) => (await request(`${base}${path}`)).body.text();
  await get('/tasks/vtrix:task_mon_done');
  await get('/tasks/vtrix:task_mon_done');
  await get('/tasks/vtrix:task_mon_done/content');
  await get('/tasks/vtrix:task_mon_retry');
  await get('/tasks/vtrix:task_mon_fail');
  await get('/tasks/vtrix:task_mon_odd');
  await get('/tasks/vtrix:task_mon_odd');
  await get('/tasks/vtrix:task_mon_odd?wait=1');
  await get('/no/such/route');
  await Promise.all([get('/tasks/vtrix:task_mon_pair'), get('/tasks/vtrix:task_mon_pair')]);
  const port = Number(new URL(base).port);
  await rawRequest(port, 'NOT HTTP\r\n\r\n');
  await deliverWebhooks();
}

before(async () => {
  const redis = await startRedis();
  closers.push(() => redis.stop());
  const archive = mkdtempSync(join(tmpdir(), 'taskgate-monitoring-archive-'));
  closers.push(() => rmSync(archive, { recursive: true, force: true }));
  receiver = await startReceiver(closable);
  receiver.respond('/failing', () => 500);
  stack = await startStack(closable, {
    env: { REDIS_URL: redis.url, TASKGATE_WEBHOOK_SECRET: newWebhookSecret(), TASKGATE_ARCHIVE: `file://${archive}` },
    configure: (config) => ({
      ...config,
      webhooks: { ...config.webhooks, allowHosts: parseAllowHosts([`127.0.0.1:${receiver.port}`]), retryDelaysMs: [WEBHOOK_RETRY_DELAY_MS] },
    }),
  });
  base = await listen(stack.app);
  await exercise();
});
after(async () => {
  for (const close of closers.reverse()) await close();
});

test('the dashboard is whole: unique panel ids, the datasource variable, a query on every panel', () => {
  assert.equal(dashboard.uid, 'taskgate');
  const ids = allPanels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  assert.ok(dashboard.templating.list.some((variable) => variable.name === 'datasource'));
  for (const panel of queryPanels) {
    assert.equal(panel.datasource?.uid, '${datasource}', panel.title);
    assert.ok((panel.targets ?? []).length > 0 && panel.targets!.every((target) => target.expr.includes('taskgate_')), panel.title);
  }
});

test('every metric the dashboard and the alerts name is in a live /metrics answer', async () => {
  const text = await (await request(`${base}/metrics`)).body.text();
  const exposed = exposedNames(text);
  const queries = [
    ...queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
    ...dashboard.templating.list.filter((variable) => variable.definition !== undefined).map((variable) => ({ where: `variable ${variable.name}`, expr: variable.definition! })),
    ...[...readFileSync(ALERTS, 'utf8').matchAll(/expr: (?:>-\n)?([\s\S]*?)\n\s+(?:for|labels):/g)].map((match) => ({ where: 'alerts.yml', expr: match[1]! })),
  ];
  assert.ok(queries.length > 30, `${queries.length} queries read`);
  const missing = queries.flatMap(({ where, expr }) => metricNames(expr).filter((name) => !exposed.has(name)).map((name) => `${where}: ${name}`));
  assert.deepEqual(missing, []);
});

test('the alerting rules pass promtool check and their unit tests', () => {
  requireTool('promtool');
  const checked = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  const tested = spawnSync('promtool', ['test', 'rules', ALERT_TESTS], { encoding: 'utf8' });
  assert.equal(tested.status, 0, tested.stdout + tested.stderr);
  assert.match(tested.stdout, /SUCCESS/);
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function query(prometheus: string, expr: string): Promise<unknown[]> {
  const response = await request(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const answer = (await response.body.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  assert.equal(answer.status, 'success', `${expr}: ${answer.error ?? ''}`);
  return answer.data!.result;
}

test('Prometheus scraping the running gateway answers every panel’s query with data', async (t) => {
  requireTool('prometheus');
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-prometheus-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const target = new URL(base).host;
  writeFileSync(
    join(directory, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [' + JSON.stringify(ALERTS) + ']',
      'scrape_configs:',
      `  - { job_name: taskgate, static_configs: [{ targets: ['${target}'] }] }`,
    ].join('\n'),
  );
  const port = await freePort();
  const prometheus = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(directory, 'prometheus.yml')}`, `--storage.tsdb.path=${join(directory, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });

  // Three scrapes at least, so every rate() has two samples in its window; traffic in between.
  let scrapes = 0;
  const scraped = async () => {
    const result = (await query(prometheus, 'count_over_time(up{job="taskgate"}[1m])').catch(() => [])) as Array<{ value: [number, string] }>;
    scrapes = Number(result[0]?.value[1] ?? 0);
    return scrapes;
  };
  for (const wanted of [2, 4]) {
    const reached = await (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null) {
        if ((await scraped()) >= wanted) return true;
        await eventually(() => false, 250);
      }
      return false;
    })();
    assert.ok(reached, `Prometheus scraped the gateway ${scrapes} times (wanted ${wanted}); its log: ${stderr}`);
    if (wanted === 2) await exercise();
  }
  const up = (await query(prometheus, 'up{job="taskgate"}')) as Array<{ value: [number, string] }>;
  assert.equal(up[0]?.value[1], '1', 'the gateway is up as Prometheus sees it');

  const empty: string[] = [];
  for (const panel of queryPanels) {
    for (const { expr, refId } of panel.targets ?? []) {
      if ((await query(prometheus, forPrometheus(expr))).length === 0) empty.push(`${panel.title} (${refId})`);
    }
  }
  assert.deepEqual(empty, [], 'panels whose query found no data');

  // The webhook and fleet panels show what happened, not only zeros; the last round may postdate the last scrape.
  const values = async (expr: string) => ((await query(prometheus, expr)) as Array<{ value: [number, string] }>).map((sample) => Number(sample.value[1]));
  const settled = async (expr: string, expected: number[]) => {
    let seen: number[] = [];
    await waitFor(async () => JSON.stringify((seen = await values(expr))) === JSON.stringify(expected), 15_000);
    assert.deepEqual(seen, expected, expr);
  };
  await settled('taskgate_redis_up{job="taskgate"}', [1]);
  await settled('sum(taskgate_webhook_deliveries_total{job="taskgate", outcome="delivered"})', [rounds]);
  await settled('sum(taskgate_webhook_deliveries_total{job="taskgate", outcome="failed"})', [rounds]);
  // The failed deliveries wait for their retry, the oldest since the first round's event.
  await settled('taskgate_webhook_queue_depth{job="taskgate"}', [rounds]);
  const [oldest] = await values('taskgate_webhook_oldest_pending_seconds{job="taskgate"}');
  assert.ok(oldest! > 0 && oldest! < WEBHOOK_RETRY_DELAY_MS / 1000, `oldest pending ${oldest} s`);
});
