/**
 * Reference: nginx `proxy_pass`, 1 worker, keep-alive upstreams, adding the provider key
 * like the gateway does (pass-through), or streaming a file from the same origin the
 * gateway fetches it from (content). Installed with apt-get when missing (as root); when
 * it cannot be had the scenario says so and goes on without it. Its config, pid
 * file and logs live in a temp directory, never in the repo.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTimeMs, freePort, spawnProcess, stopProcess, waitFor200 } from './processes.js';
import type { RunningProcess } from './stack.js';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx'];

function findNginx(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = onPath.status === 0 ? onPath.stdout.trim() : '';
  if (found !== '') return found;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

/** The nginx binary, installing it when missing (as root); or why it cannot be had. */
export function ensureNginx(log: (line: string) => void): { binary: string; version: string } | { skip: string } {
  let binary = findNginx();
  if (binary === undefined) {
    if (process.getuid?.() !== 0) return { skip: 'nginx is not installed and this is not root, so apt-get cannot install it' };
    log('nginx is missing: apt-get update && apt-get install -y nginx');
    const install = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq nginx'], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600_000,
    });
    if (install.status !== 0) {
      const reason = (install.stderr || install.stdout || String(install.error ?? '')).trim().split('\n').slice(-2).join(' ');
      return { skip: `apt-get install nginx failed: ${reason}` };
    }
    binary = findNginx();
    if (binary === undefined) return { skip: 'apt-get install nginx succeeded but no nginx binary was found' };
  }
  const version = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return { binary, version: (version.stderr || version.stdout).trim().replace(/^nginx version:\s*/, '') };
}

export interface Nginx extends RunningProcess {
  /** CPU time of the master and its worker. */
  cpuMs(): number;
}

/** One `location` of the generated config: requests under `prefix` go to `upstream` + `upstreamPath` + the rest. */
export interface NginxLocation {
  prefix: string;
  /** Origin of the upstream, e.g. `http://127.0.0.1:43121`. */
  upstream: string;
  /** Replaces `prefix` in the upstream request, e.g. a provider's `taskPathPrefix`. */
  upstreamPath: string;
  /** Headers nginx sets on the upstream request (the provider key). */
  headers?: Record<string, string>;
  /**
   * Stream the answer at the client's pace instead of spooling it to temp files when the
   * client is slower: a file proxy that never touches the disk, like the gateway.
   */
  streamed?: boolean;
}

function locationBlock(location: NginxLocation, index: number): string {
  const headers = Object.entries(location.headers ?? {})
    .map(([name, value]) => `      proxy_set_header ${name} "${value}";`)
    .join('\n');
  return `
    location ${location.prefix} {
      proxy_pass http://upstream${index}${location.upstreamPath};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
${headers}${location.streamed ? '\n      proxy_max_temp_file_size 0;' : ''}
    }`;
}

/** Starts nginx with these locations; resolves once `probePath` answers 200 through it. */
export async function startNginx(binary: string, locations: readonly NginxLocation[], probePath: string): Promise<Nginx> {
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-bench-nginx-'));
  // Workers run as nobody when the master is root; let them into the temp paths.
  chmodSync(directory, 0o755);
  const port = await freePort();
  const upstreams = locations
    .map(
      (location, index) => `
  upstream upstream${index} {
    server ${new URL(location.upstream).host};
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }`,
    )
    .join('');
  const config = `
worker_processes 1;
daemon off;
master_process on;
pid ${directory}/nginx.pid;
error_log ${directory}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${directory}/client_body;
  proxy_temp_path ${directory}/proxy;
  fastcgi_temp_path ${directory}/fastcgi;
  uwsgi_temp_path ${directory}/uwsgi;
  scgi_temp_path ${directory}/scgi;${upstreams}
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;${locations.map(locationBlock).join('')}
  }
}
`;
  writeFileSync(join(directory, 'nginx.conf'), config);
  const spawned = spawnProcess({ name: 'nginx', command: binary, args: ['-p', directory, '-c', join(directory, 'nginx.conf')] });
  const url = `http://127.0.0.1:${port}`;
  const pid = spawned.child.pid!;
  const stop = async () => {
    await stopProcess(spawned.child);
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await waitFor200(`${url}${probePath}`, spawned.child, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}; ${spawned.stderr().trim()}`);
  }
  return { name: 'nginx', url, pid, spawned, stop, cpuMs: () => cpuTimeMs(pid, true) };
}
