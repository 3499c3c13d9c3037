/**
 * A fleet for multi-process tests: a private redis-server, the provider simulators (in this
 * process, so tests read their hit counters directly), and N gateway processes of the
 * production entry on one Redis and one prefix. The gateways run `src/server.ts` through
 * tsx rather than `dist/taskgate.mjs`, because `npm test` needs no prior build; it is the
 * same entry the bundle is made from.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startGatewayProcess, type GatewayProcess } from '../hardening/support.js';
import { startRedis, type TestRedis } from './redis.js';
import { startSimulators, type Simulators } from './stack.js';

type Closable = { after(fn: () => Promise<void> | void): void };

export interface Fleet {
  redis: TestRedis;
  simulators: Simulators;
  replicas: GatewayProcess[];
  prefix: string;
  /** Starts one more replica with the fleet's environment (e.g. to replace a killed one). */
  addReplica(): Promise<GatewayProcess>;
}

export interface FleetOptions {
  replicas: number;
  /** Extra environment for every replica. */
  env?: Record<string, string>;
  /** Written to a file passed as TASKGATE_CONFIG. */
  configFile?: Record<string, unknown>;
}

export async function startFleet(t: Closable, options: FleetOptions): Promise<Fleet> {
  const redis = await startRedis();
  const { simulators, env: simulatorEnv } = await startSimulators(t);
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-fleet-'));
  const prefix = 'tgfleet:';
  const env: Record<string, string> = { ...simulatorEnv, REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: prefix, ...options.env };
  if (options.configFile !== undefined) {
    const path = join(directory, 'taskgate.json');
    writeFileSync(path, JSON.stringify(options.configFile));
    env['TASKGATE_CONFIG'] = path;
  }
  const replicas: GatewayProcess[] = [];
  const addReplica = async () => {
    const replica = await startGatewayProcess(env, { timeoutMs: 30_000 });
    replicas.push(replica);
    return replica;
  };
  t.after(async () => {
    for (const replica of replicas) if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((replica) => replica.exited));
    await redis.stop();
    rmSync(directory, { recursive: true, force: true });
  });
  await Promise.all(Array.from({ length: options.replicas }, addReplica));
  return { redis, simulators, replicas, prefix, addReplica };
}

export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to a replica, its body read whole. */
export async function ask(replica: GatewayProcess, path: string, init: { headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string } = {}): Promise<Answer> {
  const response = await request(`${replica.url}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  return { statusCode: response.statusCode, headers: response.headers, body: await response.body.text() };
}

export async function metricsOf(replica: GatewayProcess): Promise<string> {
  return (await ask(replica, '/metrics')).body;
}
