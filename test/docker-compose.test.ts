/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked by parsing:
 * it builds from the Dockerfile's own stages, names only variables the gateway reads, points the
 * replicas at its Redis and simulators, gives every service a health check, and leaves a
 * replica time for shutdownDelayMs and its drain. Each replica's environment really boots
 * a config (loadConfig), with the file of the repository it mounts at TASKGATE_CONFIG.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../src/config.js';
import { PROVIDERS } from '../src/providers/index.js';
import { baseUrlVariable } from '../src/settings/schema.js';
import { REPO_ROOT } from './hardening/support.js';

/** The only variables a deployment may set: the gateway's own, and those each provider declares. */
const KNOWN_VARIABLES = new Set([
  'PORT', 'HOST', 'LOG_LEVEL', 'TASKGATE_API_KEYS', 'TASKGATE_CORS_ORIGINS', 'UPSTREAM_TIMEOUT_MS', 'TASKGATE_RATE_LIMIT',
  'CIRCUIT_FAILURE_THRESHOLD', 'CIRCUIT_OPEN_MS', 'TASKGATE_CONFIG', 'TASKGATE_PUBLIC_URL', 'TASKGATE_LINK_SECRET',
  'TASKGATE_WEBHOOK_SECRET', 'REDIS_URL', 'TASKGATE_REDIS_PREFIX', 'TASKGATE_ARCHIVE',
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3',
  ...PROVIDERS.flatMap((provider) => [
    ...provider.credentials.map((spec) => spec.env),
    baseUrlVariable(provider),
    ...(provider.urls ?? []).map((spec) => spec.env),
  ]),
]);

const HealthcheckSchema = z.object({ test: z.array(z.string()).min(2), interval: z.string(), timeout: z.string(), retries: z.number() }).passthrough();
const ServiceSchema = z
  .object({
    image: z.string().optional(),
    build: z.object({ context: z.string(), target: z.string() }).optional(),
    command: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.string()).optional(),
    volumes: z.array(z.string()).optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
    ports: z.array(z.string()).optional(),
    healthcheck: HealthcheckSchema,
    stop_grace_period: z.string().optional(),
  })
  .passthrough();
const ComposeSchema = z
  .object({
    services: z.record(z.string(), ServiceSchema),
  })
  .passthrough();

const compose = ComposeSchema.parse(parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }));
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = new Set([...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((match) => match[1]!));
const services = Object.entries(compose.services);
const replicas = services.filter(([, service]) => service.environment?.['REDIS_URL'] !== undefined);

function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(duration);
  assert.ok(match, `duration ${duration}`);
  const value = Number(match[1]);
  return match[2] === 'ms' ? value / 1000 : match[2] === 'm' ? value * 60 : value;
}

test('three gateway replicas built from the Dockerfile, plus Redis or Valkey and the simulators', () => {
  assert.equal(replicas.length, 3);
  for (const [name, service] of replicas) {
    assert.equal(service.build?.context, '.', name);
    assert.ok(stages.has(service.build.target), `${name} builds stage "${service.build?.target}", not one of ${[...stages].join(', ')}`);
    assert.equal(service.build.target, [...stages].at(-1), 'the runtime image is the last stage');
    assert.equal(service.command, undefined, "the image's own CMD (node as PID 1) runs the gateway");
  }
  const store = services.find(([, service]) => /^(valkey\/valkey|redis):/.test(service.image ?? ''));
  assert.ok(store, 'a Redis or Valkey service');
  // Webhooks live only in it: it persists with an append-only file, on a volume of its own.
  const [, { command, volumes }] = store;
  assert.deepEqual(command?.slice(command.indexOf('--appendonly'), command.indexOf('--appendonly') + 2), ['--appendonly', 'yes']);
  assert.ok(volumes?.some((volume) => volume.endsWith(':/data')), 'its data directory is a volume');
  const simulators = compose.services['simulators'];
  assert.ok(simulators?.build !== undefined && stages.has(simulators.build.target));
  assert.ok(simulators.command?.includes('src/simulators/main.ts'));
});

test('every service has a health check; replicas check readiness and wait for healthy dependencies', () => {
  for (const [name, service] of services) assert.ok(service.healthcheck.test.length > 1, name);
  for (const [name, service] of replicas) {
    assert.match(service.healthcheck.test.join(' '), /\/readyz/, `${name} health is readiness`);
    assert.match(service.healthcheck.test.join(' '), /127\.0\.0\.1:8080\//, 'the port the image listens on');
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      assert.ok(compose.services[dependency], `${name} depends on an unknown service ${dependency}`);
      assert.equal(service.depends_on![dependency]!.condition, 'service_healthy');
    }
  }
  assert.match(dockerfile, /^EXPOSE 8080$/m);
  assert.match(dockerfile, /PORT=8080/);
});

test("the replicas' environment names only variables the gateway reads and boots a config on the fleet's Redis and simulators", () => {
  const simulatorArguments = compose.services['simulators']!.command!;
  const flagValues = (flag: string) => simulatorArguments.flatMap((value, index) => (simulatorArguments[index - 1] === flag ? [value] : []));
  const simulatorPorts = new Map(flagValues('--port').map((entry) => entry.split('=') as [string, string]));
  const simulatorKeys = new Map(flagValues('--key').map((entry) => entry.split('=') as [string, string]));
  for (const [name, service] of replicas) {
    const environment = service.environment!;
    for (const variable of Object.keys(environment)) assert.ok(KNOWN_VARIABLES.has(variable), `${name} sets ${variable}, which neither the gateway nor a provider reads`);

    const redisUrl = new URL(environment['REDIS_URL']!);
    assert.match(redisUrl.protocol, /^rediss?:$/);
    assert.ok(/^(valkey|redis)/.test(compose.services[redisUrl.hostname]?.image ?? ''), `REDIS_URL host ${redisUrl.hostname} is the Redis service`);
    assert.ok(service.depends_on?.[redisUrl.hostname], `${name} waits for ${redisUrl.hostname}`);

    for (const provider of ['vtrix', 'gravitex']) {
      const baseUrl = new URL(environment[`${provider.toUpperCase()}_BASE_URL`]!);
      assert.equal(baseUrl.hostname, 'simulators');
      assert.equal(baseUrl.port, simulatorPorts.get(provider), `${provider} port`);
      assert.equal(environment[`${provider.toUpperCase()}_API_KEY`], simulatorKeys.get(provider), `${provider} key`);
    }

    // The config file as the container sees it: a file of the repository, bind-mounted read-only at TASKGATE_CONFIG.
    const mounted = (service.volumes ?? []).map((volume) => volume.split(':')).find(([, target]) => target === environment['TASKGATE_CONFIG']);
    assert.ok(mounted, `${name} mounts a file at TASKGATE_CONFIG`);
    const [source, , mode] = mounted;
    assert.equal(mode, 'ro', `${name} mounts its config read-only`);
    const file = join(REPO_ROOT, source!);
    assert.ok(existsSync(file), `${name} mounts ${source}, which exists`);
    const config = loadConfig({ ...environment, TASKGATE_CONFIG: file });
    assert.equal(config.redis.url, environment['REDIS_URL']);
    assert.equal(config.redis.prefix, environment['TASKGATE_REDIS_PREFIX']);
    assert.ok(config.shutdownDelayMs > 0, 'behind a balancer a replica keeps serving after SIGTERM');
    assert.ok(
      seconds(service.stop_grace_period ?? '10s') * 1000 > config.shutdownDelayMs + config.shutdownGraceMs,
      `${name}: stop_grace_period must outlast shutdownDelayMs + shutdownGraceMs, or Docker kills the drain`,
    );
  }
});

test('the replicas share one result archive: a named volume at the folder TASKGATE_ARCHIVE names, writable by the image\'s user', () => {
  const raw = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { volumes?: Record<string, unknown> };
  const folders = new Set<string>();
  for (const [name, service] of replicas) {
    const archive = loadConfig({ TASKGATE_ARCHIVE: service.environment!['TASKGATE_ARCHIVE']! }).archive.url;
    assert.equal(archive?.kind, 'file', `${name} archives to a folder`);
    const directory = archive.kind === 'file' ? archive.directory : '';
    folders.add(directory);
    const mount = (service.volumes ?? []).map((volume) => volume.split(':')).find(([, target]) => target === directory);
    assert.ok(mount, `${name} mounts a volume at ${directory}`);
    assert.ok(raw.volumes !== undefined && Object.hasOwn(raw.volumes, mount[0]!), `${name} mounts the named volume "${mount[0]}", declared at the top level`);
    assert.notEqual(mount[2], 'ro', 'the archive is written');
  }
  assert.equal(folders.size, 1, 'every replica archives to the same folder');
  const [folder] = folders;
  // A new named volume takes the ownership of the image's folder: the runtime stage makes it the node user's.
  const runtime = dockerfile.slice(dockerfile.search(/^FROM\s+\S+\s+AS\s+runtime$/m));
  assert.match(runtime, new RegExp(`^RUN mkdir -p ${folder} && chown node:node ${folder}$`, 'm'));
  assert.ok(runtime.indexOf(`chown node:node ${folder}`) < runtime.indexOf('USER node'), 'made before the image drops to the node user');
});

test('no top-level configs or secrets: podman-compose 1.0 drops inline ones, so files are bind-mounted', () => {
  const raw = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Record<string, unknown>;
  assert.equal(raw['configs'], undefined);
  assert.equal(raw['secrets'], undefined);
});

test('Prometheus scrapes every replica with the alerting rules, and Grafana loads the dashboard from deploy/', () => {
  const mounts = (name: string) =>
    z.array(z.string()).parse((compose.services[name] as Record<string, unknown> | undefined)?.['volumes']).map((volume) => volume.split(':'));
  for (const name of ['prometheus', 'grafana']) {
    for (const [source] of mounts(name)) assert.ok(existsSync(join(REPO_ROOT, source!)), `${name} mounts ${source}, which exists`);
  }
  const prometheus = parse(readFileSync(join(REPO_ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((config) => config.targets)).sort();
  assert.deepEqual(targets, replicas.map(([name]) => `${name}:8080`).sort());
  assert.equal(prometheus.scrape_configs[0]?.metrics_path, '/metrics');
  const mountedAt = new Map(mounts('prometheus').map(([source, target]) => [target, source]));
  for (const rules of prometheus.rule_files) assert.equal(mountedAt.get(rules), './deploy/prometheus/alerts.yml');
  assert.ok(mounts('grafana').some(([source]) => source === './deploy/grafana/taskgate.json'));
});
