/**
 * Reference: nginx `proxy_pass` to the vtrix simulator, 1 worker, keep-alive upstream,
 * adding the provider key like the gateway does. Installed with apt-get when missing (as
 * root); when it cannot be had the scenario says so and goes on without it. Its config,
 * pid file and logs live in a temp directory, never in the repo.
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

/** The nginx binary, installing it when missing; or why it cannot be had. */
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

export async function startNginx(binary: string, upstream: string, apiKey: string, taskPath: string): Promise<Nginx> {
  const directory = mkdtempSync(join(tmpdir(), 'taskgate-bench-nginx-'));
  // Workers run as nobody when the master is root; let them into the temp paths.
  chmodSync(directory, 0o755);
  const port = await freePort();
  const upstreamHost = new URL(upstream).host;
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
  scgi_temp_path ${directory}/scgi;
  upstream simulator {
    server ${upstreamHost};
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location /tasks/ {
      proxy_pass http://simulator${taskPath};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${apiKey}";
      proxy_set_header Accept "application/json";
    }
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
    // A vtrix seed id: proves the whole chain (nginx, key, simulator) answers 200.
    await waitFor200(`${url}/tasks/d758n65e878c73cmdg20`, spawned.child, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}; ${spawned.stderr().trim()}`);
  }
  return { name: 'nginx', url, pid, spawned, stop, cpuMs: () => cpuTimeMs(pid, true) };
}
