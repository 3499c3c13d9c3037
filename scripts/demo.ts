/**
 * npm run demo — the product running on a fresh machine with no keys and no internet:
 * both provider simulators on loopback, the gateway on PORT (default 8080) wired to them
 * with demo keys, and curl lines that work. Ctrl-C stops everything.
 */
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { startSimulator } from '../src/simulators/index.js';

const DEMO_VTRIX_KEY = 'demo-vtrix-key';
const DEMO_GRAVITEX_KEY = 'sk-demo-gravitex-key';

const vtrix = await startSimulator({ provider: 'vtrix', apiKey: DEMO_VTRIX_KEY });
const gravitex = await startSimulator({ provider: 'gravitex', apiKey: DEMO_GRAVITEX_KEY });

// A few pinned stories so every curl line below shows something definite.
vtrix.setTask('task_demo_failed', { variant: 'model', timeline: [{ atMs: 0, status: 'failed' }] });
gravitex.setTask('task_Demo0000000000000000000000000001', {
  variant: 'wrapped',
  timeline: [
    { atMs: 0, status: 'queued' },
    { atMs: 3000, status: 'in_progress', progress: 25 },
    { atMs: 6000, status: 'in_progress', progress: 70 },
    { atMs: 9000, status: 'succeeded' },
  ],
});

let config;
try {
  config = loadConfig({
    LOG_LEVEL: 'warn',
    ...process.env,
    VTRIX_API_KEY: DEMO_VTRIX_KEY,
    VTRIX_BASE_URL: vtrix.url,
    GRAVITEX_API_KEY: DEMO_GRAVITEX_KEY,
    GRAVITEX_BASE_URL: gravitex.url,
  });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`taskgate demo: invalid configuration: ${error.message}`);
  process.exit(1);
}

const app = await buildApp(config);
const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
try {
  await app.listen({ port: config.port, host: config.host });
} catch (error) {
  console.error(`taskgate demo: cannot listen on ${config.host}:${config.port} (${(error as NodeJS.ErrnoException).code}); try PORT=8081 npm run demo`);
  await Promise.all([vtrix.close(), gravitex.close()]);
  process.exit(1);
}
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.port;
const base = `http://${host}:${port}`;
const auth = config.apiKeys.length > 0 ? ` -H 'Authorization: Bearer ${config.apiKeys[0]}'` : '';

console.log(`
taskgate demo
  gateway          ${base}   (docs: ${base}/docs)
  vtrix simulator  ${vtrix.url}
  gravitex sim.    ${gravitex.url}

Try:
  # vtrix's documented task: running now, succeeded ~20 s after its first poll
  curl -s${auth} ${base}/tasks/task_abc001
  # ...or wait for it instead of polling (holds up to 30 s)
  curl -s${auth} '${base}/tasks/task_abc001?wait=30'
  # gravitex's documented video: already succeeded
  curl -s${auth} ${base}/tasks/video_69095b4ce0048190893a01510c0c98b0
  # a failed task is a 200 with status "failed" and an error
  curl -s${auth} ${base}/tasks/task_demo_failed
  # a qualified id goes straight to the named provider
  curl -s${auth} ${base}/tasks/vtrix:d758n65e878c73cmdg20
  # follow a task with server-sent events until it finishes (~9 s)
  curl -sN${auth} ${base}/tasks/task_Demo0000000000000000000000000001/events
  # errors are application/problem+json
  curl -s${auth} ${base}/tasks/task_missing_demo
  curl -s${auth} ${base}/tasks/not-a-known-id

Ctrl-C to stop.
`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  app.gatewayState.shuttingDown = true;
  await app.close();
  await Promise.all([vtrix.close(), gravitex.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
