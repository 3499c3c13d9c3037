/**
 * `taskgate download` as a process against a real gateway streaming from the simulators'
 * CDN origin: the default name, -o, --output-index, no overwrite without --force, resume of
 * an interrupted download (Range + If-Range, sha256 compared), a changed file coming whole
 * again, a cut transfer resumed within one run, the problem and unreachable exit codes,
 * and the progress bar on a terminal.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { bufferAsset, loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import type { ServePacing } from '../../src/simulators/media/serve.js';
import { closedPort, runCli, runCliOnTerminal, startGateway, type Gateway } from '../helpers/cli.js';
import { eventually } from '../helpers/http.js';

const VIDEO = loadAsset('sample.webm');
const THUMBNAIL = loadAsset('thumbnail.jpg');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let cdn: Cdn;
before(async () => {
  cdn = await startCdn();
});
after(() => cdn.close());

/** A gateway allowed to fetch from the CDN, with `env` (e.g. a short UPSTREAM_TIMEOUT_MS). */
async function gatewayWithCdn(t: TestContext, env: Record<string, string> = {}): Promise<Gateway> {
  const port = Number(new URL(cdn.url).port);
  return startGateway(t, { env, configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port }] } }) });
}

/** A succeeded vtrix task whose outputs are these CDN files (vtrix's documented output shape). */
function pinSucceeded(gateway: Gateway, id: string, files: Array<{ type: string; name: string; pacing?: ServePacing }>): void {
  const content = files.map((file) => ({ type: file.type, url: cdn.signedUrl(file.name, 600_000, file.pacing) }));
  gateway.stack.vtrix.setTask(id, { raw: { status: 200, body: { id, status: 'completed', created_at: 1775831525, output: [{ content }] } } });
}

function temporaryFolder(t: TestContext): string {
  const folder = mkdtempSync(join(tmpdir(), 'taskgate-download-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

/** A file only this test serves, so its CDN requests are its own. */
function uniqueAsset(name: string, size: number) {
  const asset = bufferAsset({ name, contentType: 'video/mp4', bytes: randomBytes(size) });
  cdn.addAsset(asset);
  return asset;
}

/**
 * Starts a download that stalls at `bytes`, and interrupts it (Ctrl-C) once they are on
 * disk; `file` is where it saves (given with -o unless `cwd` is, for the default name).
 */
async function interruptedDownload(gateway: Gateway, id: string, file: string, bytes: number, cwd?: string) {
  const destination = cwd === undefined ? ['-o', file] : [];
  return runCli(['download', id, ...destination, '--gateway', gateway.url], {
    ...(cwd === undefined ? {} : { cwd }),
    started: (child) => {
      eventually(() => existsSync(`${file}.part`) && statSync(`${file}.part`).size >= bytes, 20_000).then(
        () => child.kill('SIGINT'),
        // No partial file in time: stop the download anyway; the test's own assertions then fail.
        () => child.kill('SIGKILL'),
      );
    },
  });
}

test('download saves the file under the name the gateway gives and prints its path', async (t) => {
  const gateway = await gatewayWithCdn(t);
  pinSucceeded(gateway, 'task_dl000001', [{ type: 'video', name: 'sample.webm' }]);
  const folder = temporaryFolder(t);
  const run = await runCli(['download', 'task_dl000001', '--gateway', gateway.url], { cwd: folder });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'task_dl000001.webm\n');
  assert.equal(sha256(readFileSync(join(folder, 'task_dl000001.webm'))), sha256(VIDEO.bytes!));
  assert.ok(!existsSync(join(folder, 'task_dl000001.webm.part')) && !existsSync(join(folder, 'task_dl000001.webm.part.json')), 'nothing left beside it');
  assert.match(run.stderr, /^downloading to task_dl000001\.webm \(54\.0 KiB\)\nsaved task_dl000001\.webm \(54\.0 KiB in \d+s\)\n$/);
});

test('-o names the file or a folder for it; --output-index picks another output', async (t) => {
  const gateway = await gatewayWithCdn(t);
  pinSucceeded(gateway, 'task_dl000002', [
    { type: 'video', name: 'sample.webm' },
    { type: 'image', name: 'thumbnail.jpg' },
  ]);
  const folder = temporaryFolder(t);
  const named = join(folder, 'clip.webm');
  const explicit = await runCli(['download', 'task_dl000002', '-o', named, '--gateway', gateway.url]);
  assert.equal(explicit.code, 0, explicit.stderr);
  assert.equal(explicit.stdout, `${named}\n`);
  assert.equal(sha256(readFileSync(named)), sha256(VIDEO.bytes!));

  const thumbnail = await runCli(['download', 'task_dl000002', '--output-index', '1', '--output-file', folder, '--gateway', gateway.url]);
  assert.equal(thumbnail.code, 0, thumbnail.stderr);
  assert.equal(thumbnail.stdout, `${join(folder, 'task_dl000002-1.jpg')}\n`);
  assert.equal(sha256(readFileSync(join(folder, 'task_dl000002-1.jpg'))), sha256(THUMBNAIL.bytes!));
});

test('an existing file is not replaced without --force (exit 2), and is with it', async (t) => {
  const gateway = await gatewayWithCdn(t);
  pinSucceeded(gateway, 'task_dl000003', [{ type: 'video', name: 'sample.webm' }]);
  const folder = temporaryFolder(t);
  const file = join(folder, 'kept.webm');
  writeFileSync(file, 'mine');
  const refused = await runCli(['download', 'task_dl000003', '-o', file, '--gateway', gateway.url]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^taskgate: file_exists: .*kept\.webm already exists; pass --force to replace it\n$/);
  assert.equal(readFileSync(file, 'utf8'), 'mine');
  // The default name is known only from the answer: refused there too, before a byte is written.
  writeFileSync(join(folder, 'task_dl000003.webm'), 'mine too');
  const refusedDefault = await runCli(['download', 'task_dl000003', '--gateway', gateway.url], { cwd: folder });
  assert.equal(refusedDefault.code, 2);
  assert.equal(readFileSync(join(folder, 'task_dl000003.webm'), 'utf8'), 'mine too');
  assert.ok(!existsSync(join(folder, 'task_dl000003.webm.part')));

  const forced = await runCli(['download', 'task_dl000003', '-o', file, '--force', '--gateway', gateway.url]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(sha256(readFileSync(file)), sha256(VIDEO.bytes!));
});

test('an interrupted download keeps its part, and the next run resumes it with Range + If-Range', async (t) => {
  const gateway = await gatewayWithCdn(t);
  const asset = uniqueAsset('resume-200k.mp4', 200_000);
  // The CDN stalls after 150 000 bytes of any one answer: the first run never ends by itself.
  pinSucceeded(gateway, 'task_dl000004', [{ type: 'video', name: asset.name, pacing: { stallAfterBytes: 150_000 } }]);
  const file = join(temporaryFolder(t), 'resumed.mp4');

  const interrupted = await interruptedDownload(gateway, 'task_dl000004', file, 150_000);
  assert.equal(interrupted.code, 130);
  assert.match(interrupted.stderr, /taskgate: interrupted: download interrupted; the bytes so far are kept in .*resumed\.mp4\.part: run the same command again to resume\n$/);
  assert.ok(!existsSync(file), 'no half file under the final name');
  assert.equal(statSync(`${file}.part`).size, 150_000);

  // Less on disk than was received: the resume asks from wherever the part ends.
  truncateSync(`${file}.part`, 100_000);
  const resumed = await runCli(['download', 'task_dl000004', '-o', file, '--gateway', gateway.url]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /^resuming .*resumed\.mp4 at 97\.7 KiB \(195\.3 KiB\)$/m);
  assert.equal(sha256(readFileSync(file)), sha256(asset.bytes!));
  assert.ok(!existsSync(`${file}.part`) && !existsSync(`${file}.part.json`));
  const last = cdn.requests(asset.name).at(-1);
  assert.equal(last?.range, 'bytes=100000-');
  assert.equal(last?.ifRange, asset.etag);
  assert.equal(last?.status, 206);
});

test('without -o, a part under the name the gateway gives is resumed too', async (t) => {
  const gateway = await gatewayWithCdn(t);
  const asset = uniqueAsset('resume-default.mp4', 200_000);
  pinSucceeded(gateway, 'task_dl000011', [{ type: 'video', name: asset.name, pacing: { stallAfterBytes: 150_000 } }]);
  const folder = temporaryFolder(t);
  const file = join(folder, 'task_dl000011.mp4');
  assert.equal((await interruptedDownload(gateway, 'task_dl000011', file, 150_000, folder)).code, 130);
  const resumed = await runCli(['download', 'task_dl000011', '--gateway', gateway.url], { cwd: folder });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout, 'task_dl000011.mp4\n');
  assert.equal(sha256(readFileSync(file)), sha256(asset.bytes!));
  // The second run's first answer only gave the name; the rest came as a range.
  assert.deepEqual(
    cdn.requests(asset.name).map((entry) => entry.range),
    [undefined, undefined, 'bytes=150000-'],
  );
});

test('a part that already holds the whole file is only renamed (the gateway answers 416)', async (t) => {
  const gateway = await gatewayWithCdn(t);
  const asset = uniqueAsset('whole-part.mp4', 200_000);
  pinSucceeded(gateway, 'task_dl000012', [{ type: 'video', name: asset.name, pacing: { stallAfterBytes: 150_000 } }]);
  const file = join(temporaryFolder(t), 'whole.mp4');
  assert.equal((await interruptedDownload(gateway, 'task_dl000012', file, 150_000)).code, 130);
  // As if the last bytes had arrived and the process died before its rename.
  appendFileSync(`${file}.part`, asset.bytes!.subarray(150_000));
  const run = await runCli(['download', 'task_dl000012', '-o', file, '--gateway', gateway.url]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(sha256(readFileSync(file)), sha256(asset.bytes!));
  const last = cdn.requests(asset.name).at(-1);
  assert.equal(last?.range, 'bytes=200000-');
  assert.equal(last?.status, 416);
});

test('a file that changed since the part was written comes whole again', async (t) => {
  const gateway = await gatewayWithCdn(t);
  const before = uniqueAsset('changing.mp4', 200_000);
  pinSucceeded(gateway, 'task_dl000005', [{ type: 'video', name: before.name, pacing: { stallAfterBytes: 150_000 } }]);
  const file = join(temporaryFolder(t), 'changing.mp4');
  assert.equal((await interruptedDownload(gateway, 'task_dl000005', file, 150_000)).code, 130);

  // Same URL, new bytes (smaller than the stall point): If-Range no longer matches.
  const changed = uniqueAsset('changing.mp4', 120_000);
  const run = await runCli(['download', 'task_dl000005', '-o', file, '--gateway', gateway.url]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(sha256(readFileSync(file)), sha256(changed.bytes!));
  const last = cdn.requests('changing.mp4').at(-1);
  assert.equal(last?.ifRange, before.etag);
  assert.equal(last?.status, 200);
});

test('a transfer the gateway cuts is resumed within the same run', async (t) => {
  // The gateway cuts a result stream that stays silent longer than its upstream budget.
  const gateway = await gatewayWithCdn(t, { UPSTREAM_TIMEOUT_MS: '800' });
  const asset = uniqueAsset('cut-once.mp4', 100_000);
  pinSucceeded(gateway, 'task_dl000006', [{ type: 'video', name: asset.name, pacing: { stallAfterBytes: 60_000 } }]);
  const file = join(temporaryFolder(t), 'cut.mp4');
  const run = await runCli(['download', 'task_dl000006', '-o', file, '--gateway', gateway.url]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(sha256(readFileSync(file)), sha256(asset.bytes!));
  const ranges = cdn.requests(asset.name).map((entry) => entry.range);
  assert.deepEqual(ranges, [undefined, 'bytes=60000-']);
});

test('a task without a result and an output past the list are exit 3; nothing is written', async (t) => {
  const gateway = await gatewayWithCdn(t);
  gateway.stack.vtrix.setTask('task_dl000007', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
  pinSucceeded(gateway, 'task_dl000008', [{ type: 'video', name: 'sample.webm' }]);
  const folder = temporaryFolder(t);
  const running = await runCli(['download', 'task_dl000007', '--gateway', gateway.url], { cwd: folder });
  assert.equal(running.code, 3);
  assert.match(running.stderr, /^taskgate: task_not_ready: The task is in_progress/);
  const past = await runCli(['download', 'task_dl000008', '--output-index', '3', '--gateway', gateway.url], { cwd: folder });
  assert.equal(past.code, 3);
  assert.match(past.stderr, /^taskgate: output_not_found: /);
  assert.equal(running.stdout + past.stdout, '');
  assert.deepEqual(readdirSync(folder), []);
});

test('an unreachable gateway is exit 4, a file that cannot be written exit 1', async (t) => {
  const port = await closedPort();
  const folder = temporaryFolder(t);
  const unreachable = await runCli(['download', 'task_abc001', '--gateway', `http://127.0.0.1:${port}`], { cwd: folder });
  assert.equal(unreachable.code, 4);
  assert.match(unreachable.stderr, /^taskgate: unreachable: /);

  const gateway = await gatewayWithCdn(t);
  pinSucceeded(gateway, 'task_dl000009', [{ type: 'video', name: 'sample.webm' }]);
  const run = await runCli(['download', 'task_dl000009', '-o', join(folder, 'no-such-folder', 'x.webm'), '--gateway', gateway.url]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^taskgate: write_failed: cannot write .*no-such-folder.*ENOENT/);
});

test('on a terminal, download draws bytes and rate in place and ends on a clean line', async (t) => {
  const gateway = await gatewayWithCdn(t);
  pinSucceeded(gateway, 'task_dl000010', [{ type: 'video', name: 'sample.webm' }]);
  const file = join(temporaryFolder(t), 'tty.webm');
  const { code, transcript } = await runCliOnTerminal(['download', 'task_dl000010', '-o', file, '--gateway', gateway.url]);
  assert.equal(code, 0, transcript);
  const [bar = ''] = transcript.split('\r\nsaved ');
  const draws = bar.split('\r').filter((draw) => draw !== '');
  assert.ok(draws.length >= 2, JSON.stringify(transcript));
  assert.match(draws.at(-1) ?? '', /100%.*54\.0 KiB \/ 54\.0 KiB.*\/s/);
  assert.ok(transcript.endsWith(`\r\nsaved ${file}\r\n${file}\r\n`), JSON.stringify(transcript.slice(-200)));
  assert.equal(sha256(readFileSync(file)), sha256(VIDEO.bytes!));
});
