/**
 * npm run bench — every scenario of scripts/bench/scenarios.ts, on loopback, each server
 * in its own process and the load generators in this one; writes BENCHMARKS.md.
 *
 *   npm run bench                      full run, rewrites BENCHMARKS.md's results
 *   npm run bench -- --quick           short smoke run; prints, writes only with --write
 *   options: --only NAME,NAME (see --list)   --source (gateway via tsx)   --no-build
 *            --write   --no-write   --json FILE   --cpu-prof DIR (profiles of the gateway and of the fastify references)
 *            --node PATH (start-up on another Node too; default: the Node 24 of .ci/run, when there)
 *            --from-json FILE (rewrite BENCHMARKS.md from a saved run's results, no measuring)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, tmpdir, type } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll, loadAverage } from './processes.js';
import { renderGenerated, writeReport, type BenchResults } from './report.js';
import { SCENARIOS } from './scenarios.js';
import type { BenchSettings, RunMode } from './stack.js';

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
    node: { type: 'string', multiple: true },
    list: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.list) {
  for (const scenario of SCENARIOS) console.log(`${scenario.name.padEnd(12)} ${scenario.title}`);
  process.exit(0);
}

const names = SCENARIOS.map((scenario) => scenario.name);
const selected = new Set<string>();
for (const name of (values.only ?? names.join(',')).split(',').map((item) => item.trim())) {
  if (!names.includes(name)) {
    console.error(`bench: unknown scenario "${name}" (${names.join(', ')})`);
    process.exit(2);
  }
  selected.add(name);
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
/** The Node 24 that .ci/run installs (the image's LTS line), measured for start-up when present. */
function defaultOtherNodes(): string[] {
  const home = process.env['TASKGATE_NODE24_HOME'] ?? join(process.env['TMPDIR'] ?? '/tmp', 'taskgate-node24');
  const binary = join(home, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(binary) && binary !== process.execPath) return [binary];
  console.log(`bench: no Node 24 at ${binary}; start-up runs on ${process.version} only (install: mkdir -p ${home} && cd ${home} && echo '{"private":true}' > package.json && npm install node@24)`);
  return [];
}

const settings: BenchSettings = {
  mode,
  quick,
  runs: quick ? 2 : 5,
  durationSeconds: quick ? 3 : 8,
  warmupSeconds: quick ? 1 : 2,
  gatewayNodeFlags: profileDirectory === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDirectory)}`],
  otherNodes: values.node ?? (selected.has('startup') ? defaultOtherNodes() : []),
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
    writeReport(join(root, 'BENCHMARKS.md'), JSON.parse(readFileSync(values['from-json'], 'utf8')) as BenchResults, SCENARIOS);
    log(`BENCHMARKS.md rewritten from ${values['from-json']}`);
    return;
  }
  if (mode === 'dist' && !values['no-build']) {
    log('building dist/ (npm run build: tsc, then the one-file bundle) so the gateway runs as in production');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
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
    scenarios: {},
  };
  log(`taskgate bench: ${quick ? 'quick' : 'full'} run, ${settings.runs} runs × ${settings.durationSeconds} s, gateway from ${mode}, load ${results.environment.loadBefore}`);

  for (const scenario of SCENARIOS) {
    if (!selected.has(scenario.name)) continue;
    log(scenario.title);
    results.scenarios[scenario.name] = await scenario.run(settings);
  }
  results.environment.loadAfter = loadAverage();

  const jsonPath = values.json ?? join(tmpdir(), `taskgate-bench-${Date.now()}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2));
  log(`raw results: ${jsonPath}`);
  const complete = selected.size === SCENARIOS.length;
  const write = !values['no-write'] && (values.write || (complete && !quick));
  if (write) {
    writeReport(join(root, 'BENCHMARKS.md'), results, SCENARIOS);
    log('BENCHMARKS.md updated');
  } else {
    log(renderGenerated(results, SCENARIOS));
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
