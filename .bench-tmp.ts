import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
for (const [provider, path, ids] of [['vtrix', '/model/v1/generation/task/', ['task_abc001', 'd758n65e878c73cmdg20', 'abcdefghij0123456789', 'task_zz']], ['gravitex', '/v1/video/generations/', ['video_1', 'video_2', 'video_3']]] as const) {
const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulators/main.ts', '--provider', provider, '--key', 'k'], { stdio: ['ignore', 'pipe', 'inherit'] });
let url = '';
for await (const line of createInterface({ input: child.stdout })) { url = JSON.parse(line).url; break; }
const cpu = () => { const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const pool = new Pool(url, { connections: 16 });
async function run(n: number) {
  let i = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (i < n) { const id = ids[i++ % ids.length]; const r = await pool.request({ path: `${path}${id}`, method: 'GET', headers: { authorization: 'Bearer k' } }); await r.body.text(); }
  }));
}
await run(20000);
const c0 = cpu(); const t0 = performance.now();
const N = 100000;
await run(N);
const c1 = cpu(); const t1 = performance.now();
console.log(provider, `cpu per request ${((c1 - c0) * 1000 / N).toFixed(1)} µs, rps ${(N / ((t1 - t0) / 1000)).toFixed(0)}`);
await pool.close(); child.kill('SIGTERM');
}
