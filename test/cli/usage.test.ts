/**
 * The grammar as a process: help and version on stdout with exit 0, and every kind of bad
 * usage as exit 2 with `taskgate: usage: …` on stderr, before anything is asked of a gateway.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cliEnvironment, REPOSITORY, runCli } from '../helpers/cli.js';
import { EXIT } from '../../src/cli/errors.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('--version prints the package version', async () => {
  const run = await runCli(['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, `taskgate ${VERSION}\n`);
});

test('--help describes every command, the environment and the exit codes', async () => {
  const run = await runCli(['--help']);
  assert.equal(run.code, 0);
  for (const usage of ['taskgate status <id>', 'taskgate wait <id>', 'taskgate download <id>', 'taskgate mcp', 'TASKGATE_URL', 'TASKGATE_API_KEY']) {
    assert.ok(run.stdout.includes(usage), `--help mentions ${usage}`);
  }
  // Every exit code the CLI can end with, each on its own line with what it means.
  const section = run.stdout.slice(run.stdout.indexOf('Exit codes:'));
  const listed = [...section.matchAll(/^ {2}(\d+) +\S/gm)].map((match) => Number(match[1]));
  assert.deepEqual(listed, Object.values(EXIT).sort((left, right) => left - right));
  assert.equal((await runCli(['help'])).stdout, run.stdout);
});

test('each command has its own --help, also as `help <command>`', async () => {
  for (const command of ['status', 'wait', 'download']) {
    const run = await runCli([command, '--help']);
    assert.equal(run.code, 0);
    assert.ok(run.stdout.startsWith(`Usage: taskgate ${command} <id>`), run.stdout);
    assert.equal((await runCli(['help', command])).stdout, run.stdout);
  }
});

test('an unknown flag is exit 2; --api-key points at TASKGATE_API_KEY and its value is never echoed', async () => {
  const secret = 'sk-typed-on-the-command-line-41f2';
  for (const args of [['status', 'task_abc001', `--api-key=${secret}`], ['--api-key', secret, 'status', 'task_abc001']]) {
    const run = await runCli(args);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^taskgate: usage: unknown option --api-key \(the key is read from TASKGATE_API_KEY only\)/);
    assert.ok(!run.stderr.includes(secret));
  }
  const other = await runCli(['wait', 'task_abc001', '--forever']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /^taskgate: usage: unknown option --forever; see taskgate wait --help\n$/);
  // A flag of another command is unknown here too.
  assert.equal((await runCli(['status', 'task_abc001', '--timeout', '5'])).code, 2);
});

test('missing or extra arguments and bad values are exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /a command is needed/],
    [['list'], /no command is named "list"/],
    [['status'], /status needs a task id/],
    [['status', 'a', 'b'], /status takes one task id/],
    [['status', 'task_abc001', '--output', 'yaml'], /--output must be one of text, json, url/],
    [['status', 'task_abc001', '--output'], /--output needs a value/],
    [['wait', 'task_abc001', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['wait', 'task_abc001', '--timeout=-1'], /--timeout must be a number of seconds/],
    [['wait', 'task_abc001', '--timeout', '-1'], /--timeout needs a value \(one that starts with "-" is written --timeout=…\)/],
    [['status', 'task_abc001', '--help=yes'], /--help takes no value/],
    [['download', 'task_abc001', '--output-index', '1.5'], /--output-index must be a whole number/],
    [['status', 'task_abc001', '--gateway', 'ftp://example.test'], /must be an http\(s\) URL/],
    [['status', 'task_abc001', '--gateway', 'http://user:pw@127.0.0.1:1'], /must not contain credentials/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [index, [args, message]] of cases.entries()) {
    const run = runs[index]!;
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^taskgate: usage: /);
    assert.match(run.stderr, message);
    assert.equal(run.stdout, '');
  }
});

test('from a clone without a build: `npm run -s taskgate -- …` runs the source, exit code and all', async () => {
  const npm = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      execFile('npm', ['run', '-s', 'taskgate', '--', ...args], { cwd: REPOSITORY, env: cliEnvironment() }, (error, stdout) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        if (code === null) reject(error ?? new Error('npm ended without an exit code'));
        else resolve({ code, stdout });
      });
    });
  assert.deepEqual(await npm(['--version']), { code: 0, stdout: `taskgate ${VERSION}\n` });
  assert.equal((await npm(['status'])).code, 2);
});
