/**
 * Real-socket helpers for behaviour that `inject` cannot show: disconnecting clients and
 * server-sent event streams.
 */
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';

export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

export interface SseEvent {
  event: string;
  data: string;
  /** The event's `id:` line, when it had one. */
  id?: string;
}

/** Reads a whole SSE stream (until the server closes it) into its events and comments. */
export async function readEventStream(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers: { accept: 'text/event-stream', ...headers } });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += chunk.toString();
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line.slice(1).trim());
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
        else if (line.startsWith('id: ')) id = line.slice(4);
      }
      if (data.length > 0) events.push(id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id });
    }
  }
  return { statusCode: response.statusCode, headers: response.headers, events, comments };
}

/** Polls `check` until it is true or `timeoutMs` passes; for state that settles asynchronously. */
export async function eventually(check: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}
