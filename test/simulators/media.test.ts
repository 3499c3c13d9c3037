import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { SIMULATED_PROVIDERS, simulatorCredentialValues, startSimulator, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { parseRange } from '../../src/simulators/media/serve.js';
import { SYNTHETIC_BLOCK_SIZE, syntheticByteAt, syntheticBytes } from '../../src/simulators/media/synthetic.js';
import { eventually } from '../helpers/http.js';

const MiB = 1024 * 1024;
const assetFile = (name: string): string => fileURLToPath(new URL(`../../src/simulators/media/assets/${name}`, import.meta.url));
const VIDEO = readFileSync(assetFile('sample.webm'));
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function fetchUrl(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET'): Promise<Fetched> {
  const response = await request(url, { method, headers });
  return { status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) };
}

/** A raw node:http GET without keep-alive, so a test controls (and can count) its socket. */
function openStream(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => httpGet(url, { agent: false }, resolve).once('error', reject));
}

/** Timers and sockets alive in this process, by kind: what a leak would add to. */
function activeResources(): { timers: number; sockets: number; servers: number } {
  const kinds = process.getActiveResourcesInfo();
  const count = (kind: string): number => kinds.filter((candidate) => candidate === kind).length;
  return { timers: count('Timeout'), sockets: count('TCPSocketWrap'), servers: count('TCPServerWrap') };
}

/** The counts once they stopped changing (sockets of earlier tests may still be closing). */
async function settledResources(): Promise<ReturnType<typeof activeResources>> {
  let previous = JSON.stringify(activeResources());
  for (let stableReads = 0; stableReads < 3; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = JSON.stringify(activeResources());
    stableReads = current === previous ? stableReads + 1 : 0;
    previous = current;
  }
  return JSON.parse(previous) as ReturnType<typeof activeResources>;
}

async function assertNothingLingers(baseline: ReturnType<typeof activeResources>): Promise<void> {
  await eventually(() => isDeepStrictEqual(activeResources(), baseline), 1000);
  assert.deepEqual(activeResources(), baseline);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const startedAt = performance.now();
  const value = await work();
  return { value, elapsedMs: performance.now() - startedAt };
}

describe('the committed media files', () => {
  it('are small: the video tens of KB, the thumbnails a few KB', () => {
    assert.ok(VIDEO.length > 10_000 && VIDEO.length < 100_000, `sample.webm is ${VIDEO.length} bytes`);
    for (const name of ['thumbnail.webp', 'thumbnail.jpg']) {
      const size = readFileSync(assetFile(name)).length;
      assert.ok(size > 500 && size < 20_000, `${name} is ${size} bytes`);
    }
  });

  it('sample.mp4 has its index (moov) before the media (mdat): +faststart', () => {
    const mp4 = readFileSync(assetFile('sample.mp4'));
    const moov = mp4.indexOf('moov');
    assert.ok(moov > 0 && moov < mp4.indexOf('mdat'), `moov at ${moov}, mdat at ${mp4.indexOf('mdat')}`);
  });

  it('ffprobe reads the videos as 4 s, 320x180, with a keyframe every second', async () => {
    const probe = async (name: string) => {
      try {
        const { stdout } = await promisify(execFile)('ffprobe', [
          '-v', 'error', '-of', 'json', '-show_entries', 'format=duration:stream=codec_name,width,height:packet=pts_time,flags',
          '-select_streams', 'v', assetFile(name),
        ]);
        return JSON.parse(stdout) as {
          format: { duration: string };
          streams: { codec_name: string; width: number; height: number }[];
          packets: { pts_time: string; flags: string }[];
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') assert.fail('ffprobe is missing: apt-get install -y ffmpeg');
        throw error;
      }
    };
    for (const [name, codec] of [['sample.webm', 'vp9'], ['sample.mp4', 'h264']] as const) {
      const { format, streams, packets } = await probe(name);
      assert.deepEqual(streams, [{ codec_name: codec, width: 320, height: 180 }], name);
      assert.ok(Math.abs(Number(format.duration) - 4) < 0.1, `${name} lasts ${format.duration} s`);
      const keyframeSeconds = packets.filter((packet) => packet.flags.startsWith('K')).map((packet) => Math.round(Number(packet.pts_time)));
      assert.deepEqual(keyframeSeconds, [0, 1, 2, 3], name);
    }
  });

  it('loadAsset gives the file bytes with a strong ETag and a whole-second Last-Modified', () => {
    const asset = loadAsset('sample.webm');
    assert.equal(sha256(asset.bytes ?? Buffer.alloc(0)), sha256(VIDEO));
    assert.equal(asset.size, VIDEO.length);
    assert.equal(asset.contentType, 'video/webm');
    assert.match(asset.etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(asset.lastModified.getTime() % 1000, 0);
    assert.equal(loadAsset('thumbnail.webp').contentType, 'image/webp');
  });
});

describe('parseRange', () => {
  it('reads the three single-range forms and clamps them to the file', () => {
    assert.deepEqual(parseRange('bytes=0-1023', 5000), { first: 0, last: 1023 });
    assert.deepEqual(parseRange('bytes=100-', 5000), { first: 100, last: 4999 });
    assert.deepEqual(parseRange('bytes=-100', 5000), { first: 4900, last: 4999 });
    assert.deepEqual(parseRange('bytes=-9000', 5000), { first: 0, last: 4999 });
    assert.deepEqual(parseRange('bytes=4000-99999', 5000), { first: 4000, last: 4999 });
    assert.deepEqual(parseRange('Bytes=1-2, ', 5000), { first: 1, last: 2 });
  });

  it('says unsatisfiable only for a valid range past the end, and ignores what it cannot use', () => {
    assert.equal(parseRange('bytes=5000-', 5000), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 5000), 'unsatisfiable');
    for (const ignored of [undefined, 'bytes=5-2', 'bytes=x-', 'bytes=-', 'items=0-1', 'bytes=0-1,5-6', 'bytes 0-1']) {
      assert.equal(parseRange(ignored, 5000), undefined, String(ignored));
    }
  });
});

describe('the CDN origin', () => {
  let cdn: Cdn;
  let clock = Date.UTC(2026, 3, 10, 14, 32, 5);
  const link = (name = 'sample.webm', ttlMs = 60_000): string => cdn.signedUrl(name, ttlMs);

  before(async () => {
    cdn = await startCdn({ now: () => clock });
  });
  after(() => cdn.close());
  beforeEach(() => cdn.reset());

  it('serves the whole video with its validators', async () => {
    const { status, headers, body } = await fetchUrl(link());
    assert.equal(status, 200);
    assert.equal(sha256(body), sha256(VIDEO));
    assert.equal(headers['content-type'], 'video/webm');
    assert.equal(headers['content-length'], String(VIDEO.length));
    assert.equal(headers['accept-ranges'], 'bytes');
    assert.equal(headers.etag, loadAsset('sample.webm').etag);
    assert.equal(headers['last-modified'], loadAsset('sample.webm').lastModified.toUTCString());
  });

  it('answers HEAD with the headers of the GET and no body', async () => {
    const full = await fetchUrl(link());
    const head = await fetchUrl(link(), {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const name of ['content-type', 'content-length', 'accept-ranges', 'etag', 'last-modified']) {
      assert.equal(head.headers[name], full.headers[name], name);
    }
  });

  it('answers bytes=0-1023 with that slice', async () => {
    const { status, headers, body } = await fetchUrl(link(), { range: 'bytes=0-1023' });
    assert.equal(status, 206);
    assert.equal(headers['content-range'], `bytes 0-1023/${VIDEO.length}`);
    assert.equal(headers['content-length'], '1024');
    assert.equal(headers['content-type'], 'video/webm');
    assert.deepEqual(body, VIDEO.subarray(0, 1024));
  });

  it('answers a suffix range with the last bytes', async () => {
    const { status, headers, body } = await fetchUrl(link(), { range: 'bytes=-100' });
    assert.equal(status, 206);
    assert.equal(headers['content-range'], `bytes ${VIDEO.length - 100}-${VIDEO.length - 1}/${VIDEO.length}`);
    assert.deepEqual(body, VIDEO.subarray(VIDEO.length - 100));
  });

  it('answers an open range (and Safari\'s bytes=0-) up to the end', async () => {
    const fromHundred = await fetchUrl(link(), { range: 'bytes=100-' });
    assert.equal(fromHundred.status, 206);
    assert.equal(fromHundred.headers['content-range'], `bytes 100-${VIDEO.length - 1}/${VIDEO.length}`);
    assert.deepEqual(fromHundred.body, VIDEO.subarray(100));
    const fromZero = await fetchUrl(link(), { range: 'bytes=0-' });
    assert.equal(fromZero.status, 206);
    assert.equal(sha256(fromZero.body), sha256(VIDEO));
  });

  it('answers 416 with the size for a range past the end', async () => {
    const { status, headers, body } = await fetchUrl(link(), { range: `bytes=${VIDEO.length}-` });
    assert.equal(status, 416);
    assert.equal(headers['content-range'], `bytes */${VIDEO.length}`);
    assert.equal(body.length, 0);
  });

  it('answers several ranges, or an invalid one, with the whole file', async () => {
    for (const range of ['bytes=0-9,20-29', 'bytes=50-10']) {
      const { status, headers, body } = await fetchUrl(link(), { range });
      assert.equal(status, 200, range);
      assert.equal(headers['content-range'], undefined, range);
      assert.equal(body.length, VIDEO.length, range);
    }
  });

  it('ignores Range on HEAD, as RFC 9110 defines ranges for GET only', async () => {
    const { status, headers } = await fetchUrl(link(), { range: 'bytes=0-9' }, 'HEAD');
    assert.equal(status, 200);
    assert.equal(headers['content-length'], String(VIDEO.length));
  });

  it('honours If-Range only when its ETag or date matches', async () => {
    const { etag, lastModified } = loadAsset('sample.webm');
    const cases = [
      { ifRange: etag, status: 206, length: 10 },
      { ifRange: lastModified.toUTCString(), status: 206, length: 10 },
      { ifRange: '"another-version"', status: 200, length: VIDEO.length },
      { ifRange: `W/${etag}`, status: 200, length: VIDEO.length },
      { ifRange: new Date(lastModified.getTime() + 1000).toUTCString(), status: 200, length: VIDEO.length },
    ];
    for (const { ifRange, status, length } of cases) {
      const answer = await fetchUrl(link(), { range: 'bytes=10-19', 'if-range': ifRange });
      assert.equal(answer.status, status, ifRange);
      assert.equal(answer.body.length, length, ifRange);
    }
  });

  it('answers 304 to a matching If-None-Match (weakly compared) or a later If-Modified-Since', async () => {
    const { etag, lastModified } = loadAsset('sample.webm');
    const conditionals: Record<string, string>[] = [
      { 'if-none-match': etag },
      { 'if-none-match': `"other", W/${etag}` },
      { 'if-none-match': '*' },
      { 'if-modified-since': lastModified.toUTCString() },
    ];
    for (const headers of conditionals) {
      const answer = await fetchUrl(link(), headers);
      assert.equal(answer.status, 304, JSON.stringify(headers));
      assert.equal(answer.headers.etag, etag);
      assert.equal(answer.body.length, 0);
    }
    const changed = await fetchUrl(link(), { 'if-none-match': '"other"', 'if-modified-since': lastModified.toUTCString() });
    assert.equal(changed.status, 200, 'If-None-Match decides; If-Modified-Since is then ignored');
    const older = await fetchUrl(link(), { 'if-modified-since': new Date(lastModified.getTime() - 1000).toUTCString() });
    assert.equal(older.status, 200);
  });

  it('refuses an expired link with 403 "Request has expired"', async () => {
    const url = link('thumbnail.webp', 60_000);
    assert.equal((await fetchUrl(url)).status, 200);
    clock += 59_000;
    assert.equal((await fetchUrl(url)).status, 200);
    clock += 1_000;
    const expired = await fetchUrl(url);
    assert.equal(expired.status, 403);
    assert.equal(expired.headers['content-type'], 'application/xml');
    assert.match(expired.body.toString(), /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  });

  it('refuses a link whose signature does not match, or that has none', async () => {
    const url = new URL(link());
    const tamperedExpiry = new URL(url);
    tamperedExpiry.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    const tamperedPacing = new URL(url);
    tamperedPacing.searchParams.set('stall_after', '0');
    const otherAsset = new URL(url);
    otherAsset.pathname = '/sample.mp4';
    const otherCdn = await startCdn({ now: () => clock });
    const otherSecret = new URL(otherCdn.signedUrl('sample.webm', 60_000).replace(otherCdn.url, cdn.url));
    await otherCdn.close();
    for (const refused of [tamperedExpiry, tamperedPacing, otherAsset, otherSecret]) {
      const answer = await fetchUrl(refused.href);
      assert.equal(answer.status, 403, refused.href);
      assert.match(answer.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
    }
    const unsigned = await fetchUrl(`${cdn.url}/sample.webm`);
    assert.equal(unsigned.status, 403);
    assert.match(unsigned.body.toString(), /<Code>AccessDenied<\/Code>/);
  });

  it('answers 404 NoSuchKey for an asset it does not have, and 405 to other methods', async () => {
    const missing = await fetchUrl(link('no-such-video.webm'));
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /<Code>NoSuchKey<\/Code>.*<Key>no-such-video\.webm<\/Key>/);
    const posted = await fetchUrl(link(), {}, 'POST');
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.allow, 'GET, HEAD');
  });

  it('counts hits per asset and records each Range header and outcome', async () => {
    await fetchUrl(link());
    await fetchUrl(link(), { range: 'bytes=0-1023' });
    await fetchUrl(link(), { range: 'bytes=-100', 'if-range': loadAsset('sample.webm').etag });
    await fetchUrl(link('thumbnail.jpg'));
    await fetchUrl(`${cdn.url}/sample.webm?expires=1&sig=bad`);
    assert.equal(cdn.hits('sample.webm'), 4);
    assert.equal(cdn.hits('thumbnail.jpg'), 1);
    assert.equal(cdn.hits(), 5);
    const records = cdn.requests('sample.webm');
    assert.deepEqual(
      records.map(({ range, status, bytesSent, state }) => ({ range, status, bytesSent, state })),
      [
        { range: undefined, status: 200, bytesSent: VIDEO.length, state: 'completed' },
        { range: 'bytes=0-1023', status: 206, bytesSent: 1024, state: 'completed' },
        { range: 'bytes=-100', status: 206, bytesSent: 100, state: 'completed' },
        { range: undefined, status: 403, bytesSent: 0, state: 'completed' },
      ],
    );
    // The names of the headers each request carried: a test can show no credential reached this origin.
    assert.ok(records[1]!.headerNames.includes('range'));
    assert.ok(!records[0]!.headerNames.includes('range'));
    assert.ok(records[2]!.headerNames.includes('if-range'));
    assert.equal(records[2]?.ifRange, loadAsset('sample.webm').etag);
    assert.equal(cdn.activeTransfers(), 0);
  });

  it('serves synthetic ranges that cross block boundaries byte for byte', async () => {
    const size = 3 * MiB + 17;
    const name = `synthetic-${size}.bin`;
    const head = await fetchUrl(link(name), {}, 'HEAD');
    assert.equal(head.headers['content-length'], String(size));
    assert.equal(head.headers['content-type'], 'application/octet-stream');
    for (const [first, last] of [
      [0, 15],
      [SYNTHETIC_BLOCK_SIZE - 5, 2 * SYNTHETIC_BLOCK_SIZE + 3],
      [SYNTHETIC_BLOCK_SIZE + 3, SYNTHETIC_BLOCK_SIZE + 6],
      [size - 40, size - 1],
    ] as const) {
      const { status, body } = await fetchUrl(link(name), { range: `bytes=${first}-${last}` });
      assert.equal(status, 206);
      assert.deepEqual(body, syntheticBytes(first, last + 1), `bytes ${first}-${last}`);
    }
    // Each block is stamped with its index, so a range served from the wrong block shows.
    assert.deepEqual(syntheticBytes(3 * SYNTHETIC_BLOCK_SIZE, 3 * SYNTHETIC_BLOCK_SIZE + 8), Buffer.from([0x54, 0x47, 0, 0, 0, 0, 0, 3]));
    assert.notDeepEqual(syntheticBytes(0, 64), syntheticBytes(SYNTHETIC_BLOCK_SIZE, SYNTHETIC_BLOCK_SIZE + 64));
  });

  it('streams a 200 MiB synthetic asset whole, with flat memory', async (context) => {
    const size = 200 * MiB;
    const samples = Array.from({ length: 4096 }, (_, index) => Math.floor((((index * 2654435761) % 4294967296) / 4294967296) * size)).sort(
      (left, right) => left - right,
    );
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    let offset = 0;
    let sampleIndex = 0;
    let stampsChecked = 0;
    let chunkCount = 0;
    const startedAt = performance.now();
    const response = await request(link('synthetic-200m.bin'));
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-length'], String(size));
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      const end = offset + chunk.length;
      for (let blockStart = Math.ceil(offset / SYNTHETIC_BLOCK_SIZE) * SYNTHETIC_BLOCK_SIZE; blockStart < end; blockStart += SYNTHETIC_BLOCK_SIZE) {
        for (let position = blockStart; position < Math.min(blockStart + 8, end); position++) {
          if (chunk[position - offset] !== syntheticByteAt(position)) assert.fail(`byte ${position} differs`);
        }
        stampsChecked++;
      }
      while (sampleIndex < samples.length && (samples[sampleIndex] ?? size) < end) {
        const position = samples[sampleIndex++] ?? 0;
        if (chunk[position - offset] !== syntheticByteAt(position)) assert.fail(`byte ${position} differs`);
      }
      offset = end;
      if (++chunkCount % 64 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    }
    const elapsedMs = performance.now() - startedAt;
    assert.equal(offset, size);
    assert.equal(sampleIndex, samples.length);
    assert.equal(stampsChecked, size / SYNTHETIC_BLOCK_SIZE);
    const growthMiB = (rssPeak - rssBefore) / MiB;
    context.diagnostic(`200 MiB in ${elapsedMs.toFixed(0)} ms (${((size / MiB / elapsedMs) * 1000).toFixed(0)} MiB/s, client in the same process)`);
    context.diagnostic(`RSS growth while streaming: ${growthMiB.toFixed(1)} MiB`);
    // Backpressure, measured where it acts: a server that ignored it would have queued most of
    // the 200 MiB in the answer (the client here is slower, it checks every byte it reads).
    const [served] = cdn.requests('synthetic-200m.bin');
    assert.deepEqual({ bytesSent: served?.bytesSent, state: served?.state }, { bytesSent: size, state: 'completed' });
    assert.ok(served!.peakQueuedBytes <= 2 * MiB, `${served!.peakQueuedBytes} bytes queued at once`);
    context.diagnostic(`most bytes queued in the answer at once: ${served!.peakQueuedBytes}`);
    // RSS is coarse (the client's chunks are garbage in the same process until V8 collects
    // them): it only has to stay well under what buffering the file would take.
    assert.ok(growthMiB < 160, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
  });
});

describe('pacing knobs and going away', () => {
  it('delays the headers by delay_ms', async () => {
    const cdn = await startCdn();
    try {
      const { value, elapsedMs } = await timed(() => fetchUrl(cdn.signedUrl('thumbnail.jpg', 60_000, { headersDelayMs: 150 })));
      assert.equal(value.status, 200);
      assert.ok(elapsedMs >= 145, `answered after ${elapsedMs.toFixed(0)} ms`);
    } finally {
      await cdn.close();
    }
  });

  it('stalls after stall_after bytes for stall_ms, then finishes the body', async () => {
    const cdn = await startCdn();
    try {
      const url = cdn.signedUrl('sample.webm', 60_000, { stallAfterBytes: 1000, stallMs: 200 });
      const { value, elapsedMs } = await timed(() => fetchUrl(url));
      assert.equal(sha256(value.body), sha256(VIDEO));
      assert.ok(elapsedMs >= 195, `answered after ${elapsedMs.toFixed(0)} ms`);
    } finally {
      await cdn.close();
    }
  });

  it('a stall without stall_ms holds the body until the client leaves; nothing lingers', async () => {
    const baseline = await settledResources();
    const cdn = await startCdn();
    const response = await openStream(cdn.signedUrl('synthetic-8m.bin', 60_000, { stallAfterBytes: MiB }));
    let received = 0;
    response.on('data', (chunk: Buffer) => (received += chunk.length));
    response.on('error', () => {});
    assert.ok(await eventually(() => received === MiB), `received ${received} bytes`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(received, MiB, 'nothing more arrives during the stall');
    response.destroy();
    assert.ok(await eventually(() => cdn.activeTransfers() === 0), 'the server noticed the client left');
    assert.deepEqual(cdn.requests().map(({ bytesSent, state }) => ({ bytesSent, state })), [{ bytesSent: MiB, state: 'aborted' }]);
    const { elapsedMs } = await timed(() => cdn.close());
    assert.ok(elapsedMs < 1000, `close took ${elapsedMs.toFixed(0)} ms`);
    await assertNothingLingers(baseline);
  });

  it('a client that aborts mid-stream stops the transfer; close() then resolves at once', async () => {
    const baseline = await settledResources();
    const cdn = await startCdn();
    const response = await openStream(cdn.signedUrl('synthetic-200m.bin', 60_000));
    response.on('error', () => {});
    let received = 0;
    await new Promise<void>((resolve) => {
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 4 * MiB) {
          response.destroy();
          resolve();
        }
      });
    });
    assert.ok(await eventually(() => cdn.activeTransfers() === 0), 'the server noticed the client left');
    const [record] = cdn.requests();
    assert.equal(record?.state, 'aborted');
    assert.ok((record?.bytesSent ?? 0) < 200 * MiB, `sent ${record?.bytesSent} bytes`);
    const { elapsedMs } = await timed(() => cdn.close());
    assert.ok(elapsedMs < 1000, `close took ${elapsedMs.toFixed(0)} ms`);
    await assertNothingLingers(baseline);
  });

  it('close() cuts a transfer stalled before its headers and clears its timer', async () => {
    const baseline = await settledResources();
    const cdn = await startCdn();
    const pending = openStream(cdn.signedUrl('sample.webm', 60_000, { headersDelayMs: 60_000 })).then(
      () => 'answered',
      () => 'cut',
    );
    assert.ok(await eventually(() => cdn.hits() === 1));
    const { elapsedMs } = await timed(() => cdn.close());
    assert.ok(elapsedMs < 1000, `close took ${elapsedMs.toFixed(0)} ms`);
    assert.equal(await pending, 'cut');
    assert.ok(await eventually(() => cdn.activeTransfers() === 0));
    assert.equal(cdn.requests()[0]?.state, 'aborted');
    // The 60 s headers-delay timer must be gone too, or it would hold the process open.
    await assertNothingLingers(baseline);
  });
});

describe("every simulator's public /files/<id>.<extension>", () => {
  const simulators: Simulator[] = [];
  before(async () => {
    for (const provider of SIMULATED_PROVIDERS) simulators.push(await startSimulator({ provider, credentials: simulatorCredentialValues(provider, 'files-test') }));
  });
  after(() => Promise.all(simulators.map((simulator) => simulator.close())));

  it('serves the committed file of that type with no key, whatever the id', async () => {
    for (const simulator of simulators) {
      for (const [extension, name] of [['webm', 'sample.webm'], ['mp4', 'sample.mp4'], ['webp', 'thumbnail.webp'], ['jpg', 'thumbnail.jpg']] as const) {
        const { status, headers, body } = await fetchUrl(`${simulator.url}/files/any_id_at_all.${extension}`);
        const asset = loadAsset(name);
        assert.equal(status, 200, `${simulator.provider} ${extension}`);
        assert.equal(headers['content-type'], asset.contentType);
        assert.equal(headers.etag, asset.etag);
        assert.equal(sha256(body), sha256(asset.bytes ?? Buffer.alloc(0)), `${simulator.provider} ${extension}`);
      }
    }
  });

  it('answers ranges, HEAD and If-None-Match as a media player needs', async () => {
    for (const simulator of simulators) {
      const url = `${simulator.url}/files/task_ranged.webm`;
      const part = await fetchUrl(url, { range: 'bytes=0-' });
      assert.equal(part.status, 206, simulator.provider);
      assert.equal(part.headers['content-range'], `bytes 0-${VIDEO.length - 1}/${VIDEO.length}`);
      assert.equal(sha256(part.body), sha256(VIDEO));
      const tail = await fetchUrl(url, { range: 'bytes=-10' });
      assert.deepEqual(tail.body, VIDEO.subarray(VIDEO.length - 10));
      const head = await fetchUrl(url, {}, 'HEAD');
      assert.deepEqual([head.status, head.headers['content-length'], head.body.length], [200, String(VIDEO.length), 0]);
      const cached = await fetchUrl(url, { 'if-none-match': loadAsset('sample.webm').etag });
      assert.equal(cached.status, 304);
    }
  });

  it('answers an extension it has no file for with the provider\'s unknown-path 404', async () => {
    for (const simulator of simulators) {
      const { status, headers } = await fetchUrl(`${simulator.url}/files/task_x.exe`);
      assert.equal(status, 404, simulator.provider);
      assert.match(String(headers['content-type']), /^application\/json/);
    }
  });
});
