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
 *   node --import tsx scripts/bench/in-process.ts --before DIR [--after .] [--path passthrough|cached] [--runs 4] [--node PATH]
 */
import { execFileSync } from 'node:child_process';
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

const builds = [
  { name: 'before', checkout: resolve(values.before), bundle: '', medians: [] as number[] },
  { name: 'after', checkout: resolve(values.after), bundle: '', medians: [] as number[] },
];
try {
  for (const entry of builds) entry.bundle = await bundle(entry.checkout);
  for (let run = 0; run < runs; run++) {
    for (const entry of run % 2 === 0 ? builds : [...builds].reverse()) {
      const output = execFileSync(values.node, [entry.bundle], { cwd: entry.checkout, env: { ...process.env, HARNESS_PATH: values.path }, encoding: 'utf8' });
      const { cpuUs } = JSON.parse(output.trim().split('\n').at(-1)!) as { cpuUs: number[] };
      entry.medians.push(median(cpuUs));
      console.log(`${entry.name}: ${median(cpuUs).toFixed(2)} µs CPU/request (rounds ${cpuUs.map((us) => us.toFixed(1)).join(', ')})`);
    }
  }
  const [before, after] = builds as [(typeof builds)[0], (typeof builds)[0]];
  const change = (median(after.medians) / median(before.medians) - 1) * 100;
  console.log(`\n${values.path}: before ${median(before.medians).toFixed(2)} µs, after ${median(after.medians).toFixed(2)} µs (${change >= 0 ? '+' : ''}${change.toFixed(1)}%)`);
} finally {
  for (const entry of builds) rmSync(join(entry.checkout, BUNDLE), { force: true });
}
