/**
 * The tools' backend inside the gateway (`POST /mcp`): the TaskService and the link signer
 * called directly, as the `/tasks` routes call them, for one request (its public origin,
 * its client key). Tasks are rendered exactly as `GET /tasks/{id}` sends them.
 */
import type { FastifyBaseLogger } from 'fastify';
import { toGatewayError, type GatewayError } from '../errors.js';
import { linkSet, type LinkSigner } from '../links.js';
import type { TaskSnapshot, ViewContext } from '../tasks/render.js';
import type { TaskService } from '../tasks/service.js';
import type { LinkSet } from '../../schemas/links.js';
import { isTerminal, type Task } from '../../schemas/task.js';
import type { TaskBackend, ToolProblem, WaitOutcome, WaitRequest } from './backend.js';

export interface InProcessBackendOptions {
  service: TaskService;
  links: LinkSigner;
  /** Where the URLs handed out point: the gateway's public origin for this request. */
  view: ViewContext;
  /** The client key the request was authenticated with; links are minted with it. */
  clientKeyId: string | undefined;
  /** Who the request counts against for per-client caps (its key, or its address). */
  client: string;
  log: FastifyBaseLogger;
}

export class InProcessBackend implements TaskBackend {
  constructor(private readonly options: InProcessBackendOptions) {}

  private toTask(snapshot: TaskSnapshot): Task {
    // The JSON GET sends (with a reused answer's countdown), not a second rendering of it.
    return JSON.parse(this.options.service.render(snapshot, this.options.view).json) as Task;
  }

  async getTask(id: string): Promise<Task> {
    return this.toTask(await this.options.service.getTask(id));
  }

  /**
   * Follows the task with the service's watcher (one poll loop per task, however many
   * wait); it counts among the gateway's waiters as an `sse` one, which its answer is.
   */
  async waitForTask({ id, timeoutMs, onChange, signal }: WaitRequest): Promise<WaitOutcome> {
    const stream = await this.options.service.streamTask(id, this.options.client);
    let latest = this.toTask(stream.first);
    onChange(latest);
    if (isTerminal(latest.status) || timeoutMs <= 0 || signal.aborted) return { task: latest, finished: isTerminal(latest.status) };
    let resolveOutcome!: (outcome: WaitOutcome) => void;
    let rejectOutcome!: (error: GatewayError) => void;
    const outcome = new Promise<WaitOutcome>((resolve, reject) => {
      resolveOutcome = resolve;
      rejectOutcome = reject;
    });
    let settled = false;
    const finish = (error?: GatewayError) => {
      if (settled) return;
      settled = true;
      if (error !== undefined) rejectOutcome(error);
      else resolveOutcome({ task: latest, finished: isTerminal(latest.status) });
    };
    // Refused past the caps (429 watches, 503 waiters) before anything is held.
    const unfollow = await stream.follow((event) => {
      if ('snapshot' in event) {
        latest = this.toTask(event.snapshot);
        onChange(latest);
        // `final`: the gateway is shutting down; the latest state is the answer.
        if (isTerminal(latest.status) || event.final) finish();
      } else if (event.permanent) {
        finish(event.error);
      }
      // Transient upstream errors are retried by the poll loop; the wait goes on.
    });
    const onAbort = () => finish();
    const timer = setTimeout(() => finish(), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) finish();
    try {
      return await outcome;
    } finally {
      clearTimeout(timer);
      unfollow();
      signal.removeEventListener('abort', onAbort);
    }
  }

  async createLinks(id: string, ttlSeconds: number): Promise<LinkSet> {
    const { service, links, view, clientKeyId } = this.options;
    // As POST /tasks/{id}/links: not looked up, but an id no rule routes is refused at once.
    service.router.resolve(id);
    return linkSet(id, links.mint(id, ttlSeconds, clientKeyId), view.origin);
  }

  problemOf(error: unknown): ToolProblem {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'internal_error') this.options.log.error({ err: error }, 'MCP tool failed unexpectedly');
    return { code: gatewayError.code, detail: gatewayError.detail };
  }
}
