/**
 * npm run demo — the product running on a fresh machine with no keys and no internet: a
 * simulator of every provider in the registry on loopback, the gateway on PORT (default
 * 8080, on 127.0.0.1 unless HOST is set) wired to them with demo keys, and curl lines that
 * work. Ctrl-C stops everything through the gateway's own graceful shutdown.
 */
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { PROVIDERS } from '../src/providers/index.js';
import { defaultSimulatorKey, loadProfile, startSimulator, type DemoTask, type Simulator } from '../src/simulators/index.js';
import { startCdn } from '../src/simulators/media/cdn.js';
import { startDemoPage } from './demo-page.js';

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
  const apiKey = defaultSimulatorKey(provider.name);
  const simulator = await startSimulator({
    provider: provider.name,
    apiKey,
    publicFileUrl: () => cdn.signedUrl('sample.webm', RESULT_LINK_TTL_MS),
  });
  const { demo } = await loadProfile(provider.name);
  // The pinned stories make every curl line below show something definite.
  for (const task of demo) if (task.script !== undefined) simulator.setTask(task.id.slice(task.id.indexOf(':') + 1), task.script);
  started.push({ name: provider.name, simulator, demo });
  env[`${provider.envPrefix}_API_KEY`] = apiKey;
  env[`${provider.envPrefix}_BASE_URL`] = simulator.url;
}
const closeSimulators = async () => {
  await Promise.all([...started.map(({ simulator }) => simulator.close()), cdn.close()]);
};

let config;
try {
  // CORS for any origin: the browser demo page is served from an origin of its own.
  config = loadConfig({ LOG_LEVEL: 'warn', HOST: '127.0.0.1', TASKGATE_CORS_ORIGINS: '*', ...process.env, ...env });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`taskgate demo: invalid configuration: ${error.message}`);
  await closeSimulators();
  process.exit(1);
}

const cdnAddress = new URL(cdn.url);
const app = await buildApp(
  { ...config, content: { allowHosts: [...config.content.allowHosts, { host: cdnAddress.hostname, port: Number(cdnAddress.port) }] } },
  {
    // The demo never leaves loopback: result URLs naming hosts on the internet (the seed
    // documents' own) are not resolved, so fetching them is a 502 instead of a packet out.
    resolveHostname: async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    },
  },
);
try {
  await app.listen({ port: config.port, host: config.host });
} catch (error) {
  console.error(`taskgate demo: cannot listen on ${config.host}:${config.port} (${(error as NodeJS.ErrnoException).code}); try PORT=8081 npm run demo`);
  await closeSimulators();
  process.exit(1);
}
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.port;
const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
const auth = config.apiKeys.length > 0 ? ` -H 'Authorization: Bearer ${config.apiKeys[0]}'` : '';

const curl = (path: string, flags = '-s') => `  curl ${flags}${auth} '${base}${path}'`;
const lines: string[] = [];
for (const { demo } of started) {
  for (const task of demo) {
    lines.push(`  # ${task.note}`);
    lines.push(task.events ? curl(`/tasks/${task.id}/events`, '-sN') : curl(`/tasks/${task.id}`));
  }
}
const first = started[0]?.demo[0];
if (first !== undefined) {
  lines.push('  # ...or wait for a task instead of polling (holds up to 30 s)');
  lines.push(curl(`/tasks/${first.id}?wait=30`));
}
const streamed = started.flatMap(({ demo }) => demo).find((task) => task.events === true);
if (streamed !== undefined) {
  lines.push('  # once it has succeeded: its video, streamed through the gateway; a range as players ask for it');
  lines.push(curl(`/tasks/${streamed.id}/content`, '-s -o video.webm -D -'));
  lines.push(curl(`/tasks/${streamed.id}/content`, "-s -o /dev/null -D - -H 'Range: bytes=0-1023'"));
  lines.push('  # a browser link (no key in the page): status, events and content of this task only, for 15 min');
  lines.push(curl(`/tasks/${streamed.id}/links`, '-s -X POST'));
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
  host,
  port: port + 1,
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

const width = Math.max(...started.map(({ name }) => name.length)) + ' simulator'.length;
console.log(`
taskgate demo
  ${'gateway'.padEnd(width)}  ${base}   (docs: ${base}/docs)
  ${'browser demo'.padEnd(width)}  ${page.url}   (open it: a task followed live, then its video)
${started.map(({ name, simulator }) => `  ${`${name} simulator`.padEnd(width)}  ${simulator.url}`).join('\n')}
  ${'file origin'.padEnd(width)}  ${cdn.url}

Try:
${lines.join('\n')}

Ctrl-C to stop.
`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  await app.shutdown();
  await Promise.all([page.close(), closeSimulators()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
