/**
 * npm run bench — every scenario of the benchmark issue, on loopback, each server in its
 * own process and the load generator (autocannon) in this one; writes BENCHMARKS.md.
 *
 *   npm run bench                      full run (~15 min), rewrites BENCHMARKS.md's results
 *   npm run bench -- --quick           short smoke run; prints, writes only with --write
 *   options: --only cached,passthrough,storm,waiters,startup,fleet,webhooks   --source (gateway via tsx)
 *            --no-build   --write   --no-write   --json FILE   --cpu-prof DIR (gateway profiles)
 *            --from-json FILE (rewrite BENCHMARKS.md from a saved run's results, no measuring)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, tmpdir, type } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCached } from './cached.js';
import { runFleet } from './fleet.js';
import { runPassthrough } from './passthrough.js';
import { killAll, loadAverage } from './processes.js';
import { writeReport, type BenchResults } from './report.js';
import type { BenchSettings, RunMode } from './stack.js';
import { runStartup } from './startup.js';
import { runStorm } from './storm.js';
import { runWaiters, type WaitersOptions } from './waiters.js';
import { runWebhooks } from './webhooks.js';

const SCENARIOS = ['cached', 'passthrough', 'storm', 'waiters', 'startup', 'fleet', 'webhooks'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    source: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'from-json': { type: 'string' },
  },
  strict: true,
});

const selected = new Set<Scenario>();
for (const name of (values.only ?? SCENARIOS.join(',')).split(',').map((item) => item.trim())) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    console.error(`bench: unknown scenario "${name}" (${SCENARIOS.join(', ')})`);
    process.exit(2);
  }
  selected.add(name as Scenario);
}

const quick = values.quick;
const mode: RunMode = values.source ? 'source' : 'dist';
const root = resolve(import.meta.dirname, '..', '..');
process.chdir(root);
const log = (line: string) => console.log(line);

const profileDirectory = values['cpu-prof'];
if (profileDirectory !== undefined && resolve(profileDirectory).startsWith(`${root}/`)) {
  console.error('bench: keep --cpu-prof output out of the repo (e.g. /tmp/taskgate-prof)');
  process.exit(2);
}
const settings: BenchSettings = {
  mode,
  quick,
  runs: quick ? 2 : 5,
  durationSeconds: quick ? 3 : 8,
  warmupSeconds: quick ? 1 : 2,
  gatewayNodeFlags: profileDirectory === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDirectory)}`],
  log,
};

function cleanUp(signal: NodeJS.Signals): void {
  killAll();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
process.once('SIGINT', cleanUp);
process.once('SIGTERM', cleanUp);

function osName(): string {
  const found = spawnSync('sh', ['-c', '. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"'], { encoding: 'utf8' });
  const pretty = found.stdout?.trim();
  return pretty ? `${pretty} (${type()} ${release()})` : `${type()} ${release()}`;
}

async function main(): Promise<void> {
  if (values['from-json'] !== undefined) {
    writeReport(join(root, 'BENCHMARKS.md'), JSON.parse(readFileSync(values['from-json'], 'utf8')) as BenchResults);
    log(`BENCHMARKS.md rewritten from ${values['from-json']}`);
    return;
  }
  if (mode === 'dist' && !values['no-build']) {
    log('building dist/ (tsc -p tsconfig.build.json) so the gateway runs as in production');
    const build = spawnSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('the build failed; fix it or run with --source');
  }
  const results: BenchResults = {
    environment: {
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      os: osName(),
      loadBefore: loadAverage(),
      loadAfter: '',
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      mode,
      runs: settings.runs,
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      quick,
    },
  };
  log(`taskgate bench: ${quick ? 'quick' : 'full'} run, ${settings.runs} runs × ${settings.durationSeconds} s, gateway from ${mode}, load ${results.environment.loadBefore}`);

  if (selected.has('cached')) {
    log('cached terminal task');
    results.cached = await runCached(settings);
  }
  if (selected.has('passthrough')) {
    log('pass-through');
    results.passthrough = await runPassthrough(settings);
  }
  const storm = quick
    ? { clients: 200, tasks: 20, durationSeconds: 8, clientIntervalMs: 1000 }
    : { clients: 1000, tasks: 100, durationSeconds: 30, clientIntervalMs: 1000 };
  if (selected.has('storm')) {
    log('polling storm');
    // The issue's storm polls every second, at a 1-s provider cadence and at the default 5-s one
    // (a running answer is reused until the cadence has passed: at most one call per interval).
    results.storms = [await runStorm(settings, { ...storm, cadenceMs: 1000 }), await runStorm(settings, { ...storm, cadenceMs: undefined })];
  }
  if (selected.has('waiters')) {
    log('long-poll waiters');
    const options: WaitersOptions = quick
      ? { waiters: 1000, tasks: 100, firstTerminalMs: 4000, terminalSpreadMs: 4000, rampPerSecond: 2000 }
      : { waiters: 10_000, tasks: 1000, firstTerminalMs: 12_000, terminalSpreadMs: 10_000, rampPerSecond: 2000 };
    const runs = [];
    for (let run = 0; run < (quick ? 1 : 3); run++) runs.push(await runWaiters(settings, options, run));
    results.waiters = { options, runs };
  }
  if (selected.has('startup')) {
    log('start-up');
    results.startup = [await runStartup(settings, 'dist', quick ? 2 : 5)];
    if (!quick) results.startup.push(await runStartup(settings, 'source', 3));
  }
  if (selected.has('fleet')) {
    log('fleet: 3 replicas on one redis-server');
    results.fleet = await runFleet(settings, storm);
  }
  if (selected.has('webhooks')) {
    log('webhooks');
    results.webhooks = await runWebhooks(
      settings,
      quick ? { webhooks: 1000, tasks: 100, firstTerminalMs: 8000, terminalSpreadMs: 4000 } : { webhooks: 10_000, tasks: 1000, firstTerminalMs: 15_000, terminalSpreadMs: 12_000 },
    );
  }
  results.environment.loadAfter = loadAverage();

  const jsonPath = values.json ?? join(tmpdir(), `taskgate-bench-${Date.now()}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2));
  log(`raw results: ${jsonPath}`);
  const complete = selected.size === SCENARIOS.length;
  const write = !values['no-write'] && (values.write || (complete && !quick));
  if (write) {
    writeReport(join(root, 'BENCHMARKS.md'), results);
    log('BENCHMARKS.md updated');
  } else {
    const { renderGenerated } = await import('./report.js');
    log(renderGenerated(results));
  }
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAll();
    process.exit(1);
  },
);
