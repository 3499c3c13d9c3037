/**
 * Scenario "webhooks": 10,000 webhooks over 1,000 pinned tasks that turn
 * terminal within 30 s, registered through the gateway's API, delivered to a receiver in
 * this process. Measures the delay from "terminal" (as the simulator's timeline has it:
 * the bench starts each task's clock itself) to each delivery, duplicates and losses, the
 * upstream calls per task per cadence interval (simulator hit counters), and the gateway's
 * RSS. One gateway, no Redis: the store in its memory.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { memoryMb, sampleRss, sleep } from './processes.js';
import { defineScenario, type TargetRow } from './scenario.js';
import { inBatches, pinTask, qualifiedId, resetSimulator, simulatorHits, startGateway, startSimulators, type BenchSettings } from './stack.js';
import { percentile, round } from './stats.js';

export interface WebhooksOptions {
  webhooks: number;
  tasks: number;
  /** When the first task turns terminal after its clock started (every webhook is registered by then). */
  firstTerminalMs: number;
  /** Terminal times are spread evenly over this window after `firstTerminalMs`. */
  terminalSpreadMs: number;
}

export interface WebhooksResult {
  options: WebhooksOptions;
  /** The cadences in force (the gateway's poll_after_ms of each task's first answer), longest first. */
  cadencesMs: number[];
  registered: number;
  registrationFailures: number;
  registrationSeconds: number;
  delivered: number;
  duplicates: number;
  missing: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Terminal → the gateway saw it (the event's timestamp), and from then to the arrival. */
  seenP99Ms: number;
  sentP99Ms: number;
  callsPerTaskPerCadence: { mean: number; max: number };
  peakRssMb: number;
  hwmRssMb: number;
}

async function runWebhooks(settings: BenchSettings, options: WebhooksOptions): Promise<WebhooksResult> {
  const firstArrival = new Map<string, number>();
  /** When the gateway saw the change (the event's `timestamp`), per path. */
  const seenAt = new Map<string, number>();
  const arrivals = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrivedAt = Date.now();
      const path = request.url ?? '/';
      arrivals.set(path, (arrivals.get(path) ?? 0) + 1);
      if (!firstArrival.has(path)) {
        firstArrival.set(path, arrivedAt);
        const timestamp = Date.parse(String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp?: unknown }).timestamp));
        if (Number.isFinite(timestamp)) seenAt.set(path, timestamp);
      }
      response.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const simulators = await startSimulators(settings.mode);
  const stops: Array<() => Promise<void>> = [simulators.stop];
  let pool: Pool | undefined;
  let sampler: { stop(): number } | undefined;
  try {
    const gateway = await startGateway({
      mode: settings.mode,
      simulators,
      nodeFlags: settings.gatewayNodeFlags,
      env: { TASKGATE_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}` },
      // The bench is one client standing in for many: the per-client cap would refuse most of its webhooks.
      configFile: { webhooks: { allowHosts: ['127.0.0.1'], maxPerClient: options.webhooks } },
    });
    stops.unshift(gateway.stop);
    const { providers } = simulators;
    await Promise.all(providers.map((provider) => resetSimulator(provider)));
    const tasks = Array.from({ length: options.tasks }, (_, index) => {
      const provider = providers[index % providers.length]!;
      const id = provider.sampleId(`hook-${index.toString(32).padStart(5, '0')}`);
      return {
        id,
        provider,
        /** How the gateway is asked for it. */
        gatewayId: qualifiedId(provider, id),
        /** The cadence the gateway answered for it (the providers' defaults, or an answer's own hint). */
        cadenceMs: provider.defaultCadenceMs,
        terminalAfterMs: options.firstTerminalMs + Math.round(((index * 7919) % options.tasks) * (options.terminalSpreadMs / options.tasks)),
        clockStartedAt: 0,
        firstRegisteredAt: Number.POSITIVE_INFINITY,
      };
    });
    await inBatches(tasks, 32, async (task) => {
      await pinTask(task.provider, task.id, {
        timeline: [
          { atMs: 0, status: 'in_progress', progress: 10 },
          { atMs: task.terminalAfterMs, status: 'succeeded' },
        ],
      });
    });
    pool = new Pool(gateway.url, { connections: 32 });
    // A pinned task's clock starts at its next poll: the bench makes it (one GET through the
    // gateway), so it knows each terminal time, and the answer's poll_after_ms is the cadence.
    await inBatches(tasks, 32, async (task) => {
      task.clockStartedAt = Date.now();
      const response = await pool!.request({ path: `/tasks/${task.gatewayId}`, method: 'GET' });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`starting the clock of ${task.id}: ${response.statusCode} ${text.slice(0, 200)}`);
      const pollAfter = (JSON.parse(text) as { poll_after_ms?: unknown }).poll_after_ms;
      if (typeof pollAfter === 'number') task.cadenceMs = pollAfter;
    });

    sampler = sampleRss(gateway.pid);

    const registrations = Array.from({ length: options.webhooks }, (_, index) => ({ task: tasks[index % tasks.length]!, copy: Math.floor(index / tasks.length) }));
    let registrationFailures = 0;
    const registrationStarted = Date.now();
    await inBatches(registrations, 32, async ({ task, copy }) => {
      task.firstRegisteredAt = Math.min(task.firstRegisteredAt, Date.now());
      const response = await pool!.request({
        path: `/tasks/${task.gatewayId}/webhooks`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${receiverUrl}/${task.id}/${copy}` }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 201 && registrationFailures++ === 0) settings.log(`  first failed registration: ${response.statusCode} ${text.slice(0, 200)}`);
    });
    const registrationSeconds = (Date.now() - registrationStarted) / 1000;
    const firstTerminalAt = Math.min(...tasks.map((task) => task.clockStartedAt + task.terminalAfterMs));
    settings.log(`  ${round(options.webhooks)} webhooks registered in ${registrationSeconds.toFixed(1)} s (${registrationFailures} failed), ${Math.round(firstTerminalAt - Date.now())} ms before the first task turns terminal`);

    const lastTerminalAt = Math.max(...tasks.map((task) => task.clockStartedAt + task.terminalAfterMs));
    const expected = options.webhooks - registrationFailures;
    const longestCadenceMs = Math.max(...tasks.map((task) => task.cadenceMs));
    while (firstArrival.size < expected && Date.now() < lastTerminalAt + longestCadenceMs * 2 + 15_000) await sleep(100);
    // A little longer, for any duplicate to show.
    await sleep(2000);
    const peakRssMb = sampler.stop();
    const memory = memoryMb(gateway.pid);

    const delays: number[] = [];
    const seeing: number[] = [];
    const sending: number[] = [];
    let duplicates = 0;
    for (const { task, copy } of registrations) {
      const path = `/${task.id}/${copy}`;
      const at = firstArrival.get(path);
      const seen = seenAt.get(path);
      const terminalAt = task.clockStartedAt + task.terminalAfterMs;
      if (at !== undefined) delays.push(at - terminalAt);
      if (at !== undefined && seen !== undefined) {
        seeing.push(seen - terminalAt);
        sending.push(at - seen);
      }
      duplicates += Math.max(0, (arrivals.get(path) ?? 0) - 1);
    }
    const hits = new Map(await Promise.all(providers.map(async (provider) => [provider.name, (await simulatorHits(provider)).byId] as const)));
    const perCadence = tasks.map((task) => {
      // Less the bench's own clock-starting call; the gateway's first call opens the first interval, its terminal poll ends the span.
      const gatewayCalls = (hits.get(task.provider.name)![task.id] ?? 1) - 1;
      const delivered = Math.min(...Array.from({ length: options.webhooks / options.tasks }, (_, copy) => firstArrival.get(`/${task.id}/${copy}`) ?? Number.POSITIVE_INFINITY));
      const intervals = Math.max(1, (Math.min(delivered, Date.now()) - task.firstRegisteredAt) / task.cadenceMs);
      return (gatewayCalls - 1) / intervals;
    });
    const result: WebhooksResult = {
      options,
      cadencesMs: [...new Set(tasks.map((task) => task.cadenceMs))].sort((left, right) => right - left),
      registered: expected,
      registrationFailures,
      registrationSeconds,
      delivered: firstArrival.size,
      duplicates,
      missing: expected - firstArrival.size,
      p50Ms: percentile(delays, 0.5),
      p99Ms: percentile(delays, 0.99),
      maxMs: Math.max(...delays),
      seenP99Ms: percentile(seeing, 0.99),
      sentP99Ms: percentile(sending, 0.99),
      callsPerTaskPerCadence: { mean: perCadence.reduce((sum, value) => sum + value, 0) / perCadence.length, max: Math.max(...perCadence) },
      peakRssMb,
      hwmRssMb: memory.peak,
    };
    settings.log(
      `  webhooks: ${result.delivered} of ${expected} delivered (${duplicates} duplicates, ${result.missing} missing); terminal→delivery p50 ${result.p50Ms} p99 ${result.p99Ms} max ${result.maxMs} ms (terminal→seen p99 ${result.seenP99Ms}, seen→arrived p99 ${result.sentP99Ms}); ${result.callsPerTaskPerCadence.mean.toFixed(2)} upstream calls per task per cadence (max ${result.callsPerTaskPerCadence.max.toFixed(2)}); RSS peak ${result.peakRssMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    sampler?.stop();
    await pool?.destroy();
    for (const stop of stops) await stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

function webhooksTargets(result: WebhooksResult): TargetRow[] {
  // The longest cadence in force: a task finishing just after a poll is seen one cadence later.
  const limit = result.cadencesMs[0]! + 1000;
  const exact = result.duplicates === 0 && result.missing === 0;
  return [
    {
      target: `webhooks: ${round(result.options.webhooks)} over ${round(result.options.tasks)} tasks finishing within ${(result.options.firstTerminalMs + result.options.terminalSpreadMs) / 1000} s: terminal → delivery p99`,
      measured: `${round(result.p99Ms)} ms (p50 ${round(result.p50Ms)}, max ${round(result.maxMs)}); ${round(result.delivered)} delivered, ${result.duplicates} duplicates, ${result.missing} missing`,
      goal: `≤ cadence + 1 s = ${round(limit)} ms, each exactly once`,
      met: result.p99Ms <= limit && exact,
    },
    {
      target: 'webhooks: upstream calls per task per cadence interval',
      measured: `${result.callsPerTaskPerCadence.mean.toFixed(2)} (max ${result.callsPerTaskPerCadence.max.toFixed(2)})`,
      goal: '≤ 1.1',
      met: result.callsPerTaskPerCadence.mean <= 1.1,
    },
    { target: 'webhooks: gateway RSS', measured: `${round(result.peakRssMb)} MB peak`, goal: 'report', met: undefined },
  ];
}

function webhooksDetails(result: WebhooksResult): string[] {
  const { options } = result;
  return [
    '### Webhooks',
    '',
    `${round(options.webhooks)} webhooks (\`POST /tasks/{id}/webhooks\`, 32 at a time, registered in ${result.registrationSeconds.toFixed(1)} s, ${result.registrationFailures} refused) over ${round(options.tasks)} pinned tasks (spread evenly over the registry's providers) that turn terminal between ${options.firstTerminalMs / 1000} s and ${(options.firstTerminalMs + options.terminalSpreadMs) / 1000} s after their clocks start (the bench starts each clock with a GET through the gateway, so it knows every terminal time, and that answer's \`poll_after_ms\` is the task's cadence), each webhook to its own path of a receiver in the bench process that answers 204. One gateway without Redis (the store in its memory), the providers' default cadences (${result.cadencesMs.map((ms) => `${ms / 1000} s`).join(' / ')} as the answers had them). The delay is from the terminal time to the delivery's arrival; it is mostly where in its cadence the task happened to finish: from the terminal time to the gateway seeing it (the event's \`timestamp\`) p99 ${round(result.seenP99Ms)} ms, from then to the arrival p99 ${round(result.sentP99Ms)} ms. Upstream calls per task per cadence interval: the simulators' hit counters less the call the bench's GET made, from the first registration to the first delivery of the task. RSS: VmRSS sampled every 100 ms (peak ${round(result.peakRssMb)} MB, VmHWM ${round(result.hwmRssMb)} MB).`,
    '',
  ];
}

export const webhooksScenario = defineScenario<WebhooksResult>({
  name: 'webhooks',
  title: 'webhooks',
  run: (settings) =>
    runWebhooks(
      settings,
      settings.quick
        ? { webhooks: 1000, tasks: 100, firstTerminalMs: 8000, terminalSpreadMs: 4000 }
        : { webhooks: 10_000, tasks: 1000, firstTerminalMs: 15_000, terminalSpreadMs: 12_000 },
    ),
  targets: webhooksTargets,
  details: webhooksDetails,
});
