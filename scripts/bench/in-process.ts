/**
 * Before/after of the gateway's own JavaScript: scripts/bench/in-process-harness.ts bundled
 * against two checkouts' src/ and run one after the other, `--runs` times each (the order
 * swapped every run), CPU µs per request of each. Steadier than compare.ts (no simulator or
 * load generator in another process), but blind to what happens outside the gateway's
 * JavaScript (the upstream sockets): use both.
 *
 * A checkout is a directory with src/ and node_modules/, e.g. an old commit made with
 * `git archive <sha> | tar -x -C DIR` and `npm ci` (or a link to this node_modules).
 *
 * `--paired N` loads both builds into one process instead and alternates N pairs of rounds
 * between them (before, after, after, before, …): a machine whose speed drifts within
 * seconds (a noisy host) slows both sides of a pair alike, and the median of the pairs'
 * ratios is the figure to read. The two gateways share one heap and its collector. Pairs of
 * 2,000 requests (`--round`) vary by about ±8% here, and each process run has its own luck
 * (code layout, collector timing): two runs of one pair differ by up to 3%. Take three.
 *
 *   node --import tsx scripts/bench/in-process.ts --before DIR [--after .] [--path passthrough|cached] [--runs 4 | --paired 300 [--round 2000]] [--node PATH]
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: '.' },
    path: { type: 'string', default: 'passthrough' },
    runs: { type: 'string', default: '4' },
    node: { type: 'string', default: process.execPath },
    paired: { type: 'string' },
    round: { type: 'string', default: '2000' },
  },
});
if (values.before === undefined) throw new Error('--before DIR (a checkout with node_modules) is required');
if (values.path !== 'passthrough' && values.path !== 'cached') throw new Error('--path is passthrough or cached');
const runs = Number(values.runs);
const HARNESS = 'scripts/bench/in-process-harness.ts';
const COPY = 'scripts/bench/in-process-harness.tmp.ts';
const BUNDLE = 'in-process-harness.tmp.mjs';

/** The harness bundled against the checkout's own src/ (its packages stay external, found in its node_modules). */
async function bundle(checkout: string): Promise<string> {
  const copy = join(checkout, COPY);
  copyFileSync(resolve(HARNESS), copy);
  try {
    await build({
      entryPoints: [copy],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: join(checkout, BUNDLE),
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      logLevel: 'error',
    });
  } finally {
    rmSync(copy, { force: true });
  }
  return join(checkout, BUNDLE);
}

/** The paired mode's one process: both harnesses set up, warmed, then driven round by round in turn. */
const PAIRED_DRIVER = `
const [before, after] = await Promise.all(JSON.parse(process.env.HARNESS_BUNDLES).map(async (url) => (await import(url)).setUpHarness()));
const PER_ROUND = Number(process.env.HARNESS_ROUND);
for (const harness of [before, after, before, after]) await harness.round(PER_ROUND);
const rounds = [[], []];
for (let pair = 0; pair < Number(process.env.HARNESS_PAIRS); pair++) {
  const order = pair % 2 === 0 ? [0, 1] : [1, 0];
  for (const side of order) rounds[side][pair] = await [before, after][side].round(PER_ROUND);
}
await Promise.all([before.close(), after.close()]);
console.log(JSON.stringify(rounds));
`;

const builds = [
  { name: 'before', checkout: resolve(values.before), bundle: '', medians: [] as number[] },
  { name: 'after', checkout: resolve(values.after), bundle: '', medians: [] as number[] },
];
try {
  for (const entry of builds) entry.bundle = await bundle(entry.checkout);
  const env = { ...process.env, HARNESS_PATH: values.path };
  if (values.paired !== undefined) {
    const output = execFileSync(values.node, ['--input-type=module', '-e', PAIRED_DRIVER], {
      env: { ...env, HARNESS_BUNDLES: JSON.stringify(builds.map((entry) => pathToFileURL(entry.bundle).href)), HARNESS_PAIRS: values.paired, HARNESS_ROUND: values.round },
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const rounds = JSON.parse(output.trim().split('\n').at(-1)!) as [number[], number[]];
    const ratios = rounds[1].map((after, index) => after / rounds[0][index]!);
    for (const [index, entry] of builds.entries()) entry.medians.push(...rounds[index]!);
    if (ratios.length <= 60) console.log(`after/before per pair: ${ratios.map((ratio) => ratio.toFixed(3)).join(', ')}`);
    const sorted = [...ratios].sort((x, y) => x - y);
    const quartile = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;
    console.log(`${values.path}: median ratio ${median(ratios).toFixed(3)} (quartiles ${quartile(0.25).toFixed(3)}-${quartile(0.75).toFixed(3)}, ${ratios.length} pairs)`);
  } else {
    for (let run = 0; run < runs; run++) {
      for (const entry of run % 2 === 0 ? builds : [...builds].reverse()) {
        const output = execFileSync(values.node, [entry.bundle], { cwd: entry.checkout, env: { ...env, HARNESS_ALONE: '1' }, encoding: 'utf8' });
        const { cpuUs } = JSON.parse(output.trim().split('\n').at(-1)!) as { cpuUs: number[] };
        entry.medians.push(median(cpuUs));
        console.log(`${entry.name}: ${median(cpuUs).toFixed(2)} µs CPU/request (rounds ${cpuUs.map((us) => us.toFixed(1)).join(', ')})`);
      }
    }
  }
  const [before, after] = builds as [(typeof builds)[0], (typeof builds)[0]];
  const change = (median(after.medians) / median(before.medians) - 1) * 100;
  console.log(`\n${values.path}: before ${median(before.medians).toFixed(2)} µs, after ${median(after.medians).toFixed(2)} µs (${change >= 0 ? '+' : ''}${change.toFixed(1)}%)`);
} finally {
  for (const entry of builds) rmSync(join(entry.checkout, BUNDLE), { force: true });
}
