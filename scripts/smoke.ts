/**
 * npm run smoke — the production bundle as the Docker image runs it: the files the
 * Dockerfile's runtime stage copies (read from the Dockerfile itself), laid out in a
 * temporary folder as in the image, and its CMD started there against the provider
 * simulators on loopback. Checks /healthz, /readyz, a seed task of every provider, the
 * API docs (which load files at run time) and the MCP tools (loaded at their first
 * request), then SIGTERM → exit 0; then the same with tracing on (its SDK is a bundle of
 * its own), exporting to a loopback OTLP receiver that must get the spans; then in fleet
 * mode on a throwaway redis-server with webhooks on, where a webhook registered on a
 * finished task must reach a loopback receiver (the Lua scripts are inlined in the
 * bundle: this proves they are there); then with the result archive in S3 (its store and
 * the AWS SDK are a bundle of their own too), against a real s3rver on loopback, where a
 * task's file must be archived and served back. `.ci/run` runs it after the build; the
 * tests run from sources, so this is what proves the image's files start.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { PROVIDERS } from '../src/providers/index.js';
import { loadProfile, startSimulator, type Simulator } from '../src/simulators/index.js';
import { loadAsset } from '../src/simulators/media/assets.js';
import { startS3 } from '../test/helpers/s3.js';
import { startLocalRedis } from './local-fleet.js';

const PORT = 18000 + Math.floor(Math.random() * 2000);

function fail(message: string): never {
  console.error(`smoke: ${message}`);
  process.exit(1);
}

/** The runtime stage of the Dockerfile: what it copies from the build stage, its workdir and its CMD. */
function runtimeStage(dockerfile: string): { workdir: string; copies: Array<{ from: string; to: string }>; command: string[] } {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim());
  const start = lines.findIndex((line) => /^FROM\s+\S+\s+AS\s+runtime$/i.test(line));
  if (start === -1) fail('the Dockerfile has no `FROM … AS runtime` stage');
  let workdir = '/';
  let command: string[] = [];
  const copies: Array<{ from: string; to: string }> = [];
  for (const line of lines.slice(start + 1)) {
    if (/^FROM\s/i.test(line)) break;
    const workdirMatch = /^WORKDIR\s+(\S+)$/i.exec(line);
    if (workdirMatch) workdir = workdirMatch[1]!;
    const copy = /^COPY\s+--from=build\s+(?:--chown=\S+\s+)?(\S+)\s+(\S+)$/i.exec(line);
    if (copy) copies.push({ from: copy[1]!, to: copy[2]! });
    const cmd = /^CMD\s+(\[.*\])$/i.exec(line);
    if (cmd) command = JSON.parse(cmd[1]!) as string[];
  }
  return { workdir, copies, command };
}

// The build stage works in /app on a copy of this repository: /app/dist/… is ./dist/….
const stage = runtimeStage(readFileSync('Dockerfile', 'utf8'));
const image = mkdtempSync(join(tmpdir(), 'taskgate-image-'));
for (const { from, to } of stage.copies) {
  const source = relative('/app', from);
  if (!existsSync(source)) fail(`the Dockerfile copies ${from}, which the build did not make (run npm run build first)`);
  cpSync(source, join(image, to.startsWith('/') ? relative(stage.workdir, to) : to), { recursive: true });
}
if (stage.command[0] !== 'node' || stage.command.length < 2) fail(`the runtime CMD is not node <file>: ${JSON.stringify(stage.command)}`);
const BUNDLE = stage.command[1]!;
if (!existsSync(join(image, BUNDLE))) fail(`the runtime CMD runs ${BUNDLE}, which the runtime stage does not copy`);

const simulators: Simulator[] = [];
const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', PORT: String(PORT), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
const seeds: Array<{ provider: string; id: string }> = [];
for (const provider of PROVIDERS) {
  const simulator = await startSimulator({ provider: provider.name });
  simulators.push(simulator);
  Object.assign(env, simulator.env);
  const [seed] = (await loadProfile(provider.name)).seeds.keys();
  if (seed !== undefined) seeds.push({ provider: provider.name, id: `${provider.name}:${seed}` });
}

const base = `http://127.0.0.1:${PORT}`;

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await request(`${base}${path}`);
  return { status: response.statusCode, body: await response.body.text() };
}

/** The image's bundle with `extraEnv`: healthy, ready, every seed answered, the docs served, `more` checked, SIGTERM → 0. */
async function smoke(extraEnv: Record<string, string>, more?: (terminalSeeds: string[]) => Promise<void>): Promise<void> {
  const gateway = spawn(process.execPath, stage.command.slice(1), { cwd: image, env: { ...env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
  try {
    const started = performance.now();
    for (;;) {
      if (gateway.exitCode !== null) fail(`the bundle exited with ${gateway.exitCode} before answering`);
      if (performance.now() - started > 15_000) fail('no answer on /healthz within 15 s');
      const health = await get('/healthz').catch(() => undefined);
      if (health?.status === 200) break;
      await sleep(50);
    }
    console.log(`smoke: the image's ${BUNDLE} (${stage.copies.length} copies from the build) answers /healthz after ${Math.round(performance.now() - started)} ms`);
    const ready = await get('/readyz');
    if (ready.status !== 200) fail(`/readyz answered ${ready.status}: ${ready.body}`);
    const terminalSeeds: string[] = [];
    for (const { provider, id } of seeds) {
      const answer = await get(`/tasks/${encodeURIComponent(id)}`);
      const task = JSON.parse(answer.body) as { provider?: string; status?: string };
      if (answer.status !== 200 || task.provider !== provider) fail(`GET /tasks/${id} answered ${answer.status}: ${answer.body}`);
      console.log(`smoke: ${id} is ${task.status}`);
      if (task.status === 'succeeded' || task.status === 'failed' || task.status === 'canceled') terminalSeeds.push(id);
    }
    // The docs UI serves its files from its package folder: the runtime stage must have it.
    const docs = await get('/docs/static/swagger-ui-bundle.js');
    if (docs.status !== 200 || docs.body.length < 100_000) fail(`the API docs did not load (${docs.status}): the runtime stage lacks what they read`);
    // The MCP server is loaded at the first POST /mcp: it must load from the image's files too.
    const mcp = await request(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    const listed = await mcp.body.text();
    if (mcp.statusCode !== 200 || !listed.includes('"name":"get_task"')) fail(`POST /mcp (tools/list) answered ${mcp.statusCode}: ${listed.slice(0, 300)}`);
    console.log('smoke: POST /mcp lists the MCP tools');
    await more?.(terminalSeeds);
    gateway.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'still running' as const)]);
    if (code !== 0) fail(`SIGTERM ended the bundle with ${code}`);
    console.log('smoke: SIGTERM → exit 0');
  } finally {
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
  }
}

// A stand-in collector: counts the OTLP/HTTP trace exports it is sent.
let exports = 0;
const collector = createServer((incoming, answer) => {
  incoming.resume();
  incoming.on('end', () => {
    if (incoming.method === 'POST' && incoming.url === '/v1/traces') exports++;
    answer.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
collector.listen(0, '127.0.0.1');
await once(collector, 'listening');

/** Fleet mode with webhooks on: a webhook on a finished task is delivered (every step is a Lua script of the bundle). */
async function smokeFleet(): Promise<void> {
  const redis = await startLocalRedis();
  let delivered = 0;
  const receiver = createServer((incoming, answer) => {
    incoming.resume();
    incoming.on('end', () => {
      delivered++;
      answer.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const receiverPort = (receiver.address() as AddressInfo).port;
  const configFile = join(image, 'smoke-fleet.json');
  writeFileSync(configFile, JSON.stringify({ webhooks: { allowHosts: [`127.0.0.1:${receiverPort}`] } }));
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  try {
    await smoke({ REDIS_URL: redis.url, TASKGATE_WEBHOOK_SECRET: secret, TASKGATE_CONFIG: configFile }, async (terminalSeeds) => {
      const [id] = terminalSeeds;
      if (id === undefined) fail('no seed task is finished: nothing to deliver a webhook for');
      const answer = await request(`${base}/tasks/${encodeURIComponent(id)}/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hook` }),
      });
      const created = await answer.body.text();
      if (answer.statusCode !== 201) fail(`POST /tasks/${id}/webhooks answered ${answer.statusCode}: ${created}`);
      const started = performance.now();
      while (delivered === 0) {
        if (performance.now() - started > 15_000) fail(`the webhook on ${id} was not delivered within 15 s`);
        await sleep(50);
      }
      console.log(`smoke: fleet mode: a webhook on ${id} was registered in Redis and delivered`);
    });
  } finally {
    receiver.close();
    await redis.stop();
  }
}

try {
  await smoke({});
  if (exports !== 0) fail('tracing is off by default, yet something was exported');
  await smoke({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, OTEL_BSP_SCHEDULE_DELAY: '100' });
  if (exports === 0) fail('tracing on: no trace export reached the collector');
  console.log(`smoke: tracing on: ${String(exports)} OTLP export(s) received`);
  await smokeFleet();
  const s3 = await startS3(undefined);
  try {
    await smoke({ ...s3.env('smoke'), TASKGATE_CONFIG: JSON.stringify({ archive: { forcePathStyle: true } }) }, async () => {
      // A task whose file is on its provider's own origin (the simulator's /files/): archived into S3, then served from there.
      const vtrix = simulators.find((simulator) => simulator.provider === 'vtrix')!;
      vtrix.setTask('task_smoke_archive', { timeline: [{ atMs: 0, status: 'succeeded' }] });
      const started = performance.now();
      for (;;) {
        const answer = await get('/tasks/vtrix:task_smoke_archive');
        if ((JSON.parse(answer.body) as { archived_at?: string | null }).archived_at) break;
        if (performance.now() - started > 15_000) fail(`the S3 archive did not archive a task within 15 s: ${answer.body}`);
        await sleep(50);
      }
      const stored = s3.requests().filter((entry) => entry.method === 'PUT' && entry.path.startsWith('/archive/smoke/tasks/vtrix/task_smoke_archive/')).length;
      const file = await request(`${base}/tasks/vtrix:task_smoke_archive/content`);
      const bytes = Buffer.from(await file.body.arrayBuffer());
      const served = await s3.received((entry) => entry.method === 'GET' && /^\/archive\/smoke\/tasks\/vtrix\/task_smoke_archive\/\d+\?/.test(entry.path));
      if (file.statusCode !== 200 || !bytes.equals(loadAsset('sample.webm').bytes!) || stored < 2 || !served) {
        const seen = s3.requests().map((entry) => `${entry.method} ${entry.path}`).join(', ');
        fail(`the S3 archive: ${stored} upload(s), /content answered ${file.statusCode} with ${bytes.length} bytes, from the store: ${served} (the store got: ${seen})`);
      }
      console.log('smoke: the S3 archive (dist/archive-s3.mjs) stored a task and served its file back');
    });
  } finally {
    await s3.stop();
  }
} finally {
  collector.close();
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(image, { recursive: true, force: true });
}
