import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { PROVIDER_NAMES } from '../../src/providers/index.js';

const MAIN = fileURLToPath(new URL('../../src/simulators/main.ts', import.meta.url));

interface Launched {
  lines: Array<{ provider: string; url: string }>;
  stop: () => Promise<number | null>;
}

/** Starts main.ts and waits for `expected` JSON lines on stdout. */
async function launch(args: string[], expected: number): Promise<Launched> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Launched['lines'] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    lines.push(JSON.parse(line) as Launched['lines'][number]);
    if (lines.length === expected) break;
  }
  return {
    lines,
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

describe('simulators CLI (main.ts)', () => {
  it('prints one URL line for a single provider, serves it with the given key, and exits 0 on SIGTERM', async () => {
    const { lines, stop } = await launch(['--provider', 'vtrix', '--port', '0', '--key', 'cli-key', '--time-scale', '0.01'], 1);
    try {
      assert.equal(lines[0]?.provider, 'vtrix');
      assert.match(lines[0]?.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      // What a gateway needs to use it, from the provider's own declaration of its credentials.
      assert.deepEqual((lines[0] as { env?: unknown }).env, { VTRIX_BASE_URL: lines[0]?.url, VTRIX_API_KEY: 'cli-key' });
      const response = await request(`${lines[0]?.url}/model/v1/generation/task/task_abc001`, {
        headers: { authorization: 'Bearer cli-key' },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(((await response.body.json()) as { task_id: string }).task_id, 'task_abc001');
    } finally {
      assert.equal(await stop(), 0);
    }
  });

  it('starts every provider of the registry by default with the demo keys', async () => {
    const { lines, stop } = await launch([], PROVIDER_NAMES.length);
    try {
      assert.deepEqual(lines.map((line) => line.provider).sort(), [...PROVIDER_NAMES].sort());
      assert.ok(PROVIDER_NAMES.includes('gravitex'));
      const gravitex = lines.find((line) => line.provider === 'gravitex');
      const response = await request(`${gravitex?.url}/v1/video/generations/video_69095b4ce0048190893a01510c0c98b0`, {
        headers: { authorization: 'Bearer demo-gravitex-key' },
      });
      assert.equal(response.statusCode, 200);
      await response.body.dump();
    } finally {
      assert.equal(await stop(), 0);
    }
  });
});
