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

interface Started {
  name: string;
  simulator: Simulator;
  demo: readonly DemoTask[];
}

const started: Started[] = [];
const env: Record<string, string> = {};
for (const provider of PROVIDERS) {
  const apiKey = defaultSimulatorKey(provider.name);
  const simulator = await startSimulator({ provider: provider.name, apiKey });
  const { demo } = await loadProfile(provider.name);
  // The pinned stories make every curl line below show something definite.
  for (const task of demo) if (task.script !== undefined) simulator.setTask(task.id.slice(task.id.indexOf(':') + 1), task.script);
  started.push({ name: provider.name, simulator, demo });
  env[`${provider.envPrefix}_API_KEY`] = apiKey;
  env[`${provider.envPrefix}_BASE_URL`] = simulator.url;
}
const closeSimulators = () => Promise.all(started.map(({ simulator }) => simulator.close()));

let config;
try {
  config = loadConfig({ LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...process.env, ...env });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`taskgate demo: invalid configuration: ${error.message}`);
  await closeSimulators();
  process.exit(1);
}

const app = await buildApp(config);
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
lines.push('  # errors are application/problem+json');
lines.push(curl('/tasks/task_missing_demo'));
lines.push(curl('/tasks/not-a-known-id'));

const width = Math.max(...started.map(({ name }) => name.length)) + ' simulator'.length;
console.log(`
taskgate demo
  ${'gateway'.padEnd(width)}  ${base}   (docs: ${base}/docs)
${started.map(({ name, simulator }) => `  ${`${name} simulator`.padEnd(width)}  ${simulator.url}`).join('\n')}

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
  await closeSimulators();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
