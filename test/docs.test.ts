/**
 * The README and docs/ as a newcomer meets them: a README short enough to read in minutes,
 * every relative link landing on a file of this repository, nothing pointing outside it,
 * the sample TASKGATE_CONFIG file a configuration the gateway really boots, and the
 * README's result-file example answered by a real `npm run demo`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config.js';
import { freePortPair, REPO_ROOT as REPO_ROOT_WITH_SLASH } from './hardening/support.js';

const REPO_ROOT = resolve(REPO_ROOT_WITH_SLASH);

const README_MAX_BYTES = 20 * 1024;

function markdownFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const PAGES = [join(REPO_ROOT, 'README.md'), ...markdownFiles(join(REPO_ROOT, 'docs'))];
const text = (path: string) => readFileSync(path, 'utf8');
const shown = (path: string) => relative(REPO_ROOT, path);

/** The page without its code: fenced blocks and inline code are examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Targets of `[text](target)` and `[label]: target`, titles dropped. */
function linkTargets(markdown: string): string[] {
  const inline = [...markdown.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  const references = [...markdown.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((match) => match[1]!);
  return [...inline, ...references];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = match[1]!
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** What is wrong with a relative link from `page`, or undefined when it lands on a file (and heading). */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // https:, mailto: …
  const [pathPart = '', anchor] = target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const file = path === '' ? page : resolve(dirname(page), path);
  if (!file.startsWith(`${REPO_ROOT}/`) && file !== REPO_ROOT) return `${target} leaves the repository`;
  if (!existsSync(file)) return `${target} names no file`;
  if (anchor !== undefined && anchor !== '' && statSync(file).isFile() && file.endsWith('.md') && !anchors(text(file)).has(anchor)) {
    return `${target}: ${shown(file)} has no heading #${anchor}`;
  }
  return undefined;
}

test(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
  const size = statSync(join(REPO_ROOT, 'README.md')).size;
  assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes; move detail into docs/`);
});

test('every relative link in README.md and docs/ lands on a file of the repository, and on a heading when it names one', () => {
  const links = PAGES.flatMap((page) => linkTargets(prose(text(page))).map((target) => ({ page, target })));
  // The README alone links every page of docs/: far fewer found means the link reader broke.
  assert.ok(links.length >= markdownFiles(join(REPO_ROOT, 'docs')).length, `only ${links.length} links found`);
  const broken = links.flatMap(({ page, target }) => {
    const problem = brokenLink(page, target);
    return problem === undefined ? [] : [`${shown(page)}: ${problem}`];
  });
  assert.deepEqual(broken, []);
});

// What a clone does not have: the product's design notes, the provider research, the issue tracker.
const OUTSIDE = [/\.\.\/shared/, /DESIGN\.md/, /\bissue #?\d+/i, /(?<![\w/-])providers\.md/];

test('README.md and docs/ point nowhere outside the repository: no design notes, no research pages, no issue numbers', () => {
  const found = PAGES.flatMap((page) =>
    text(page)
      .split('\n')
      .flatMap((line, index) => (OUTSIDE.some((pattern) => pattern.test(line)) ? [`${shown(page)}:${index + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(found, []);
});

test('no file of the repository points outside it: code, tests, scripts, deploy files and BENCHMARKS.md', () => {
  const self = relative(REPO_ROOT, fileURLToPath(import.meta.url));
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path !== '' && path !== self && /\.(?:ts|mts|cjs|mjs|js|json|md|ya?ml|sh|lua|html|conf)$|(?:^|\/)(?:Dockerfile|run)$/.test(path));
  assert.ok(tracked.length > 100, `only ${tracked.length} files listed`);
  const found = tracked.flatMap((path) => {
    const file = join(REPO_ROOT, path);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, index) => (OUTSIDE.some((pattern) => pattern.test(line)) ? [`${path}:${index + 1}: ${line.trim()}`] : []));
  });
  assert.deepEqual(found, []);
});

// The rule holds from here on; older subjects are history and stay as they were written.
const SUBJECT_RULE_SINCE = '2026-12-07T11:45:00Z';
const SUBJECT_MAX = 72;

test(`commit subjects since ${SUBJECT_RULE_SINCE} are at most ${SUBJECT_MAX} characters`, () => {
  const subjects = execFileSync('git', ['log', `--since=${SUBJECT_RULE_SINCE}`, '--format=%h %s'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
  const long = subjects.filter((line) => line.slice(line.indexOf(' ') + 1).length > SUBJECT_MAX);
  assert.deepEqual(long, []);
});

test("configuration.md's sample TASKGATE_CONFIG file has no repeated key and boots the gateway's config", () => {
  const page = text(join(REPO_ROOT, 'docs/configuration.md'));
  const section = page.slice(page.indexOf('## The config file'));
  const sample = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(sample, 'docs/configuration.md shows a sample file under "The config file"');
  // JSON.parse keeps the last of two equal keys without a word; YAML (a superset of JSON) refuses them.
  assert.doesNotThrow(() => parseYaml(sample, { uniqueKeys: true }), 'a key given twice in the sample');
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-docs-'));
  try {
    const file = join(directory, 'taskgate.json');
    writeFileSync(file, sample);
    const config = loadConfig({ TASKGATE_CONFIG: file });
    const settings = JSON.parse(sample) as { shutdownDelayMs: number; routes: unknown[] };
    assert.equal(config.shutdownDelayMs, settings.shutdownDelayMs);
    assert.equal(config.routes.length, settings.routes.length);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("npm run demo serves the documented tasks' result files from loopback, as the README's curl lines fetch them", { timeout: 60_000 }, async (t) => {
  const port = await freePortPair();
  const demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) => demo.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  t.after(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });
  let output = '';
  demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const started = () => {
      if (output.includes('Ctrl-C to stop.')) resolve();
    };
    demo.stdout.on('data', started);
    demo.once('exit', () => reject(new Error(`the demo exited before it started: ${output}`)));
  });

  const gateway = `http://127.0.0.1:${port}`;
  // gravitex's documented video: already succeeded, its documented URL on the internet.
  const seeded = 'video_69095b4ce0048190893a01510c0c98b0';
  const task = (await (await fetch(`${gateway}/tasks/${seeded}`)).json()) as { status: string; url: string };
  assert.equal(task.status, 'succeeded');
  assert.equal(new URL(task.url).hostname, '127.0.0.1', 'the result file is on the demo\'s loopback file origin');
  const content = await fetch(`${gateway}/tasks/${seeded}/content`);
  assert.equal(content.status, 200, await content.clone().text());
  assert.equal(content.headers.get('content-type'), 'video/webm');
  const sample = readFileSync(join(REPO_ROOT, 'src/simulators/media/assets/sample.webm'));
  assert.ok(Buffer.from(await content.arrayBuffer()).equals(sample), 'the bytes of the committed sample video');
  // The documented story stays: vtrix's CLI-documented task answers in that shape, still waiting.
  const documented = (await (await fetch(`${gateway}/tasks/task_abc001`)).json()) as { provider: string; provider_status: string };
  assert.deepEqual([documented.provider, documented.provider_status], ['vtrix', 'pending']);

  demo.kill('SIGINT');
  assert.equal(await exited, 0, output);
});
