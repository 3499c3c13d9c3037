/**
 * The layout rules the code keeps: no import cycle among the gateway's own modules (src/,
 * routes/, schemas/), and no source file over ~450 lines outside the simulators unless its
 * first comment says why. The import graph is read straight from the sources: every
 * relative `import … from`, `export … from`, bare `import '…'` and `import('…')`, with
 * `.js` resolved to the `.ts` beside it. `import type` counts like any other import: it is
 * erased at run time, but a cycle of types still ties two modules into one (neither can be
 * read, moved or bundled apart: the tracing SDK and the S3 store are bundled on their own),
 * and it is what madge, the tool this test stands in for, reports too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_FOLDERS = ['src', 'routes', 'schemas'];
const MAX_LINES = 450;
/** Simulators are test fixtures that happen to run as servers: their size follows the providers they imitate. */
const SIZE_EXEMPT = [/^src\/simulators\//, /^src\/providers\/[^/]+\/simulator\.ts$/];

const STATIC_IMPORT = /^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE_IMPORT = /^import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every .ts file under the folders, as paths relative to the repository (declaration files left out). */
function sourceFiles(root: string, folders: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const folder of folders) walk(folder);
  return files.sort();
}

/** The relative imports of one module's text, resolved to repository paths of the files that exist. */
function importsOf(root: string, file: string, text: string): string[] {
  const found = new Set<string>();
  for (const pattern of [STATIC_IMPORT, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const [, specifier] of text.matchAll(pattern)) {
      if (specifier === undefined || !specifier.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier.replace(/\.js$/, '.ts')));
      if (target.endsWith('.ts') && existsSync(join(root, target))) found.add(target);
    }
  }
  return [...found];
}

/** The import cycles of a graph, each as the path that closes it (`a → b → a`), found by depth-first search. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (node: string) => {
    const at = onPath.indexOf(node);
    if (at !== -1) {
      cycles.push([...onPath.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    onPath.push(node);
    for (const next of graph.get(node) ?? []) visit(next);
    onPath.pop();
    done.add(node);
  };
  for (const node of graph.keys()) visit(node);
  return cycles;
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(ROOT, SOURCE_FOLDERS)) graph.set(file, importsOf(ROOT, file, readFileSync(join(ROOT, file), 'utf8')));
  return graph;
}

/** The text of a file's first comment (a block comment or a run of line comments), or ''. */
function firstComment(text: string): string {
  const block = /^\s*\/\*([\s\S]*?)\*\//.exec(text);
  if (block !== null) return block[1]!;
  return /^(?:\s*\/\/.*\n)+/.exec(text)?.[0] ?? '';
}

test('the walker sees every kind of import, type imports and dynamic ones included', () => {
  const text = [
    "import type { Tracer } from './api.js';",
    'import {',
    '  first,',
    '  second,',
    "} from '../errors.js';",
    "export { third } from './requests.js';",
    "import './settings.js';",
    "const { createTracing } = await import('./sdk.js');",
    "import { z } from 'zod';",
  ].join('\n');
  assert.deepEqual(importsOf(ROOT, 'src/tracing/tracer.ts', text).sort(), [
    'src/errors.ts',
    'src/tracing/api.ts',
    'src/tracing/requests.ts',
    'src/tracing/sdk.ts',
    'src/tracing/settings.ts',
  ]);
});

test('a cycle is found whatever its length, and a graph without one has none', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
  ]);
  assert.deepEqual(cyclesOf(graph), [['a', 'b', 'c', 'a']]);
  assert.deepEqual(cyclesOf(new Map([...graph, ['c', ['d']]])), []);
});

test('no import cycle among src/, routes/ and schemas/', () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `the walker found ${graph.size} modules`);
  assert.ok((graph.get('src/app.ts')?.length ?? 0) > 10, 'the walker follows imports');
  const cycles = cyclesOf(graph).map((cycle) => cycle.join(' → '));
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

test(`no source file over ${MAX_LINES} lines outside the simulators, unless its first comment says why`, () => {
  const oversized: string[] = [];
  for (const file of sourceFiles(ROOT, SOURCE_FOLDERS)) {
    if (SIZE_EXEMPT.some((pattern) => pattern.test(file))) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    // The reason is stated in so many words: "Longer than 450 lines: …".
    if (lines > MAX_LINES && !/Longer than \d+ lines: \S/.test(firstComment(text))) oversized.push(`${file} (${lines} lines)`);
  }
  assert.deepEqual(oversized, []);
});

test('the process environment is read in src/config.ts only: every other module is handed parsed values', () => {
  const readers = sourceFiles(ROOT, SOURCE_FOLDERS).filter((file) => /\bprocess\.env\b/.test(readFileSync(join(ROOT, file), 'utf8')));
  assert.deepEqual(readers, ['src/config.ts']);
});
