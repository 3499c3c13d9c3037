/**
 * npm run demo — the product running on a fresh machine with no keys and no internet: a
 * simulator of every provider in the registry on loopback, the gateway on PORT (default
 * 8080, on 127.0.0.1 unless HOST is set) wired to them with demo keys, and curl lines that
 * work. Ctrl-C stops everything through the gateway's own graceful shutdown.
 *
 * npm run demo -- --fleet 3 — the same behind a round-robin front on PORT, served by 3
 * replicas sharing one Redis (a throwaway redis-server when it is installed, else REDIS_URL).
 *
 * The result archive is on, in a temporary folder removed when the demo stops (unless
 * TASKGATE_ARCHIVE names one).
 */
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { type Config } from '../src/settings/schema.js';
import { PROVIDERS } from '../src/providers/index.js';
import { loadProfile, startSimulator, type DemoTask, type Simulator } from '../src/simulators/index.js';
import { startCdn } from '../src/simulators/media/cdn.js';
import { startDemoPage } from './demo-page.js';
import { redisServerInstalled, startLocalRedis, startRoundRobin, type LocalRedis, type RoundRobinFront } from './local-fleet.js';

const { values: options } = parseArgs({ options: { fleet: { type: 'string' } }, strict: true });
const fleetSize = options.fleet === undefined ? undefined : Number(options.fleet);
if (fleetSize !== undefined && !(Number.isInteger(fleetSize) && fleetSize >= 1 && fleetSize <= 32)) {
  console.error(`taskgate demo: --fleet needs a number of replicas from 1 to 32, got "${options.fleet}"`);
  process.exit(2);
}

interface Started {
  name: string;
  simulator: Simulator;
  demo: readonly DemoTask[];
}

// Result files live on a "CDN" origin of their own, behind signed links that expire, as real ones do.
const cdn = await startCdn();
const RESULT_LINK_TTL_MS = 6 * 60 * 60 * 1000;

const started: Started[] = [];
const env: Record<string, string> = {};
for (const provider of PROVIDERS) {
  const simulator = await startSimulator({
    provider: provider.name,
    publicFileUrl: () => cdn.signedUrl('sample.webm', RESULT_LINK_TTL_MS),
  });
  const { demo, seeds } = await loadProfile(provider.name);
  // The seed documents' result URLs name hosts on the internet, which the demo never reaches:
  // their stories stay as documented, their files come from the loopback CDN.
  for (const [id, seed] of seeds) {
    if (seed.resultUrl !== undefined) simulator.setTask(id, { resultUrl: cdn.signedUrl('sample.webm', RESULT_LINK_TTL_MS) });
  }
  // The pinned stories make every curl line below show something definite.
  for (const task of demo) if (task.script !== undefined) simulator.setTask(task.id.slice(task.id.indexOf(':') + 1), task.script);
  started.push({ name: provider.name, simulator, demo });
  Object.assign(env, simulator.env);
}
const closeSimulators = async () => {
  await Promise.all([...started.map(({ simulator }) => simulator.close()), cdn.close()]);
};

// Every result file kept in a folder of its own, gone with the demo (whatever ends it).
const archiveFolder = process.env['TASKGATE_ARCHIVE'] === undefined ? mkdtempSync(join(tmpdir(), 'taskgate-demo-archive-')) : undefined;
if (archiveFolder !== undefined) process.once('exit', () => rmSync(archiveFolder, { recursive: true, force: true }));
const archiveEnv: Record<string, string> = archiveFolder === undefined ? {} : { TASKGATE_ARCHIVE: `file://${archiveFolder}` };

let config: Config;
try {
  // CORS for any origin: the browser demo page is served from an origin of its own.
  // One process lives as long as its links, so it signs them with a secret of its own (no
  // boot warning about one); replicas share the one they keep in Redis, as in production.
  const linkSecret: Record<string, string> = fleetSize === undefined ? { TASKGATE_LINK_SECRET: randomBytes(32).toString('base64url') } : {};
  config = loadConfig({ LOG_LEVEL: 'warn', HOST: '127.0.0.1', TASKGATE_CORS_ORIGINS: '*', ...linkSecret, ...archiveEnv, ...process.env, ...env });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`taskgate demo: invalid configuration: ${error.message}`);
  await closeSimulators();
  process.exit(1);
}

// The CDN is on loopback: allowed by name, as an operator would list an internal file host.
const cdnAddress = new URL(cdn.url);
config = { ...config, content: { ...config.content, allowHosts: [...config.content.allowHosts, { host: cdnAddress.hostname, port: Number(cdnAddress.port) }] } };
const appDeps = {
  // The demo never leaves loopback: a result URL naming a host on the internet (one pinned
  // through /__sim/tasks, say) is not resolved, so fetching it is a 502 instead of a packet out.
  resolveHostname: async (hostname: string): Promise<never> => {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  },
};

let redis: LocalRedis | undefined;
let front: RoundRobinFront | undefined;
const apps: FastifyInstance[] = [];
/** What the browser page holds open, once it is started. */
const opened: { close?: () => Promise<void> } = {};
const closeAll = async () => {
  await opened.close?.();
  await front?.close();
  await Promise.all(apps.map((app) => app.shutdown()));
  await redis?.stop();
  await closeSimulators();
};

/** Listens, and answers the origin to print (a wildcard host is reached on loopback). */
async function listenOrExit(app: FastifyInstance, port: number, host: string): Promise<string> {
  try {
    await app.listen({ port, host });
  } catch (error) {
    console.error(`taskgate demo: cannot listen on ${host}:${port} (${(error as NodeJS.ErrnoException).code}); try PORT=${port + 10} npm run demo`);
    await closeAll();
    process.exit(1);
  }
  const address = app.server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${listening}`;
}

/** The replicas' config: the demo's, on a free loopback port each, sharing REDIS_URL when there is one. */
async function fleetConfig(base: Config): Promise<{ config: Config; note: string }> {
  let url = base.redis.url;
  let note = url === undefined ? '' : 'REDIS_URL';
  if (url === undefined && redisServerInstalled()) {
    redis = await startLocalRedis();
    url = redis.url;
    note = 'a throwaway redis-server';
  }
  if (url === undefined) {
    console.warn('taskgate demo: redis-server is not installed and REDIS_URL is unset: the replicas run without Redis, each on its own (apt-get install -y redis-server)');
  }
  return { config: { ...base, port: 0, host: '127.0.0.1', redis: { ...base.redis, url } }, note };
}

let base: string;
const listing: string[] = [];
if (fleetSize === undefined) {
  const app = await buildApp(config, appDeps);
  apps.push(app);
  base = await listenOrExit(app, config.port, config.host);
} else {
  const { config: replicaConfig, note } = await fleetConfig(config);
  const replicaUrls: string[] = [];
  for (let index = 0; index < fleetSize; index++) {
    const app = await buildApp(replicaConfig, appDeps);
    apps.push(app);
    replicaUrls.push(await listenOrExit(app, 0, '127.0.0.1'));
  }
  try {
    front = await startRoundRobin(replicaUrls, config.port, config.host);
  } catch (error) {
    console.error(`taskgate demo: cannot listen on ${config.host}:${config.port} (${(error as NodeJS.ErrnoException).code}); try PORT=${config.port + 10} npm run demo -- --fleet ${fleetSize}`);
    await closeAll();
    process.exit(1);
  }
  base = front.url;
  replicaUrls.forEach((url, index) => listing.push(`replica ${index + 1}\t${url}`));
  listing.push(`redis\t${replicaConfig.redis.url === undefined ? 'none: the replicas share nothing' : `${replicaConfig.redis.url} (${note})`}`);
}
const auth = config.apiKeys.length > 0 ? ` -H 'Authorization: Bearer ${config.apiKeys[0]}'` : '';

const curl = (path: string, flags = '-s') => `  curl ${flags}${auth} '${base}${path}'`;
/** An id as one path segment: a `/` inside it (an operation name, a model path) goes as %2F. */
const segment = (id: string) => encodeURIComponent(id);
const lines: string[] = [];
for (const { demo } of started) {
  for (const task of demo) {
    lines.push(`  # ${task.note}`);
    lines.push(task.events ? curl(`/tasks/${segment(task.id)}/events`, '-sN') : curl(`/tasks/${segment(task.id)}`));
  }
}
const first = started[0]?.demo[0];
if (first !== undefined) {
  lines.push('  # ...or wait for a task instead of polling (holds up to 30 s)');
  lines.push(curl(`/tasks/${segment(first.id)}?wait=30`));
}
const streamed = started.flatMap(({ demo }) => demo).find((task) => task.events === true);
if (streamed !== undefined) {
  lines.push('  # once it has succeeded: its video, streamed through the gateway; a range as players ask for it');
  lines.push(curl(`/tasks/${segment(streamed.id)}/content`, '-fsS -o video.webm -D -'));
  lines.push(curl(`/tasks/${segment(streamed.id)}/content`, "-fsS -o /dev/null -D - -H 'Range: bytes=0-1023'"));
  lines.push('  # the result archive keeps it: archived_at is set, and the file outlives the provider\'s link');
  lines.push(`  curl -s${auth} '${base}/tasks/${segment(streamed.id)}' | grep -o '"archived_at":"[^"]*"'`);
  lines.push('  # a browser link (no key in the page): status, events and content of this task only, for 15 min');
  lines.push(curl(`/tasks/${segment(streamed.id)}/links`, '-s -X POST'));
}
lines.push('  # errors are application/problem+json');
lines.push(curl('/tasks/task_missing_demo'));
lines.push(curl('/tasks/not-a-known-id'));

// The app page: another origin, no key; it starts a task, follows it live, then plays it.
const [pageProvider] = started;
let demoTasks = 0;
const page = await startDemoPage({
  gateway: base,
  apiKey: config.apiKeys[0],
  host: '127.0.0.1',
  port: config.port + 1,
  newTask: () => {
    const nativeId = `demo${Date.now().toString(36)}${(demoTasks++).toString(36)}`;
    pageProvider!.simulator.setTask(nativeId, {
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 1500, status: 'in_progress', progress: 15 },
        { atMs: 4000, status: 'in_progress', progress: 50 },
        { atMs: 6500, status: 'in_progress', progress: 85 },
        { atMs: 8000, status: 'succeeded' },
      ],
    });
    return `${pageProvider!.name}:${nativeId}`;
  },
});
opened.close = () => page.close();

const rows: Array<[string, string]> = [
  [fleetSize === undefined ? 'gateway' : `gateway (round-robin over ${fleetSize} replicas)`, `${base}   (docs: ${base}/docs)`],
  ['browser demo', `${page.url}   (open it: a task followed live, then its video)`],
  ...listing.map((line) => line.split('\t') as [string, string]),
  ...started.map(({ name, simulator }): [string, string] => [`${name} simulator`, simulator.url]),
  ['file origin', cdn.url],
  ['result archive', archiveFolder === undefined ? (config.archive.url === undefined ? 'off' : String(process.env['TASKGATE_ARCHIVE'])) : `${archiveFolder}   (removed when the demo stops)`],
];
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`
taskgate demo
${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n')}

Try:
${lines.join('\n')}

Ctrl-C to stop.
`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  await closeAll();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stop(signal).catch((error: unknown) => {
      console.error('the demo did not stop cleanly:', error);
      process.exit(1);
    });
  });
}
