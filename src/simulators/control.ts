/**
 * The `/__sim/` control API: lets a separate process (the demo, the benchmarks, a curl
 * user) pin tasks, inject faults and read hit counters over HTTP. Loopback only, no auth.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { JSON_CONTENT_TYPE, prepareAnswer, sendAnswer } from './answer.js';
import { faultSchema, taskScriptSchema, type Fault, type TaskScript } from './script.js';

export const CONTROL_PREFIX = '/__sim/';
const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

/** The part of a simulator the control API drives. */
export interface ControlTarget {
  hitCounts(): { total: number; byId: Record<string, number> };
  /** When each status request for a pinned id arrived (epoch ms, the latest 10,000). */
  hitTimes(id: string): number[];
  setTask(id: string, script: TaskScript): void;
  injectFault(id: string, fault: Fault): void;
  clearFaults(id?: string): void;
  reset(): void;
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  sendAnswer(response, prepareAnswer(status, JSON.stringify(value), JSON_CONTENT_TYPE));
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}

async function readJson(request: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_CONTROL_BODY_BYTES) return { ok: false, message: 'body too large' };
    chunks.push(buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, message: 'body is not valid JSON' };
  }
}

/** Parses a control body with a schema and hands it on; any rejection is a 400. */
async function withBody<Schema extends z.ZodType>(
  request: IncomingMessage,
  response: ServerResponse,
  schema: Schema,
  apply: (value: z.infer<Schema>) => void,
): Promise<void> {
  const read = await readJson(request);
  if (!read.ok) return sendJson(response, 400, { error: 'invalid_body', message: read.message });
  const parsed = schema.safeParse(read.value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    return sendJson(response, 400, { error: 'invalid_body', issues });
  }
  try {
    apply(parsed.data);
  } catch (error) {
    // e.g. a variant of the other provider: the schema alone cannot know which one we are.
    return sendJson(response, 400, { error: 'invalid_body', message: (error as Error).message });
  }
  sendJson(response, 200, { ok: true });
}

function decodeSegment(segment: string): string | undefined {
  try {
    const id = decodeURIComponent(segment);
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}

/**
 * Routes: `GET hits`, `GET hits/{id}` (when each status request for a pinned id came), `POST tasks/{id}` (`*` = every id not pinned on its own), `POST faults/{id}` (`*` = every id),
 * `DELETE faults[/{id}]`, `POST reset`.
 */
export async function handleControl(
  target: ControlTarget,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  if (!isLoopback(request.socket.remoteAddress)) return sendJson(response, 403, { error: 'loopback_only' });
  const [resource, rawId, ...extra] = path.slice(CONTROL_PREFIX.length).split('/');
  const route = `${request.method ?? 'GET'} ${resource ?? ''}`;
  if (rawId === undefined) {
    switch (route) {
      case 'GET hits':
        return sendJson(response, 200, target.hitCounts());
      case 'POST reset':
        target.reset();
        return sendJson(response, 200, { ok: true });
      case 'DELETE faults':
        target.clearFaults();
        return sendJson(response, 200, { ok: true });
    }
  }
  const id = rawId === undefined || extra.length > 0 ? undefined : decodeSegment(rawId);
  if (id !== undefined) {
    switch (route) {
      case 'GET hits':
        return sendJson(response, 200, { id, times: target.hitTimes(id) });
      case 'POST tasks':
        return withBody(request, response, taskScriptSchema, (script) => target.setTask(id, script));
      case 'POST faults':
        return withBody(request, response, faultSchema, (fault) => target.injectFault(id, fault));
      case 'DELETE faults':
        target.clearFaults(id);
        return sendJson(response, 200, { ok: true });
    }
  }
  sendJson(response, 404, { error: 'unknown_control_route' });
}
