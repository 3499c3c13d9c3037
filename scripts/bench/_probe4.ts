import { readFileSync } from 'node:fs';
import { startSimulators, startGateway, startReference, VTRIX_KEY } from '/work/main/scripts/bench/stack.js';
import { runLoad } from '/work/main/scripts/bench/load.js';
import { killAll } from '/work/main/scripts/bench/processes.js';
function us(pid: number) { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return [Number(f[11]) * 10, Number(f[12]) * 10]; }
const sims = await startSimulators('dist');
const gw = await startGateway({ mode: 'dist', simulators: sims });
const proxy = await startReference('proxy', 'node-proxy.ts', ['--upstream', sims.vtrix, '--key', VTRIX_KEY]);
let n = 0;
const next = () => `/tasks/${'p' + (n++).toString(32).padStart(19, '0')}`;
for (const conns of [1, 32]) for (const [name, t] of [['gateway', gw], ['proxy', proxy]] as const) {
  const [u0, s0] = us(t.pid); const [su0, ss0] = us(sims.pid);
  const r = await runLoad({ url: t.url + '/tasks/x', connections: conns, durationSeconds: 4, nextPath: next });
  const [u1, s1] = us(t.pid); const [su1, ss1] = us(sims.pid);
  console.log(`${name} conns ${conns}: ${r.rps.toFixed(0)} rps; user ${((u1 - u0) * 1000 / r.ok).toFixed(0)} us/req sys ${((s1 - s0) * 1000 / r.ok).toFixed(0)} us/req; sim user ${((su1 - su0) * 1000 / r.ok).toFixed(0)} sys ${((ss1 - ss0) * 1000 / r.ok).toFixed(0)}`);
}
await gw.stop(); await proxy.stop(); await sims.stop(); killAll();
