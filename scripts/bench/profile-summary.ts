/**
 * Reads a `.cpuprofile` written by `node --cpu-prof` (e.g. `npm run bench -- --cpu-prof
 * /tmp/taskgate-prof`) and prints where the time went: self time by package and by
 * function, and total (inclusive) time of the functions that matter most.
 *
 * node --import tsx scripts/bench/profile-summary.ts FILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const file = positionals[0];
if (file === undefined) throw new Error('usage: profile-summary.ts FILE.cpuprofile [--top N]');
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
const totalMicros = profile.endTime - profile.startTime;

function packageOf(url: string): string {
  if (url === '') return '(native/vm)';
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  const local = /\/(src|routes|schemas|dist\/\w+)\/(.*)$/.exec(url);
  return local ? `app:${local[0].replace(/^\//, '')}` : url;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src|routes|schemas)\//, '$1/')}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

const bySelfPackage = new Map<string, number>();
const bySelfFunction = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const node = byId.get(id)!;
  bySelfPackage.set(packageOf(node.callFrame.url), (bySelfPackage.get(packageOf(node.callFrame.url)) ?? 0) + micros);
  bySelfFunction.set(label(node), (bySelfFunction.get(label(node)) ?? 0) + micros);
  // Inclusive time: charge every distinct function on the stack once.
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const name = label(byId.get(current)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
  }
}

const print = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, micros] of [...entries].sort((left, right) => right[1] - left[1]).slice(0, top)) {
    console.log(`${(micros / 1000).toFixed(0).padStart(8)} ms ${((100 * micros) / totalMicros).toFixed(1).padStart(5)}%  ${name}`);
  }
};
console.log(`${file}: ${(totalMicros / 1000).toFixed(0)} ms profiled`);
print('self time by package', bySelfPackage);
print('self time by function', bySelfFunction);
print('total time by function (inclusive)', inclusive);
