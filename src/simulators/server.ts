/**
 * One provider simulator on plain `node:http`. The benchmarks use it as the "direct"
 * reference, so the hot path (a poll of a known task) is string slicing, a few Map
 * lookups and writing a Buffer prepared the first time that task phase was asked for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_PREFIX, handleControl, type ControlTarget } from './control.js';
import { JSON_CONTENT_TYPE, prepareAnswer, prepareError, sendAnswer, type PreparedAnswer } from './answer.js';
import { applyFault } from './faults.js';
import { loadAsset, type CommittedAssetName } from './media/assets.js';
import { serveAsset, type Asset } from './media/serve.js';
import { definitionOf, plainCredentials, simulatorCredentialValues } from './credentials.js';
import {
  filePath,
  isSimAnswer,
  VIDEO_EXTENSION,
  type ErrorAnswer,
  type ProviderProfile,
  type RenderInput,
  type SimCredentials,
  type SimRequest,
  type SimRoute,
} from './profile.js';
import {
  faultSchema,
  isTerminal,
  taskScriptSchema,
  type Fault,
  type RawAnswer,
  type TaskScript,
} from './script.js';
import { phaseIndexAt, planTask, type TaskPlan } from './timeline.js';

export interface SimulatorOptions {
  /** A provider of the registry, e.g. `vtrix`. */
  provider: string;
  /** Credential values by the provider's setting names (`apiKey`…); default: the demo's. */
  credentials?: Readonly<Record<string, string>>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Multiplies every timeline duration: 0.01 runs tasks 100× faster. Default 1. */
  timeScale?: number;
  /** Wall clock in epoch milliseconds (default Date.now); tests inject their own. */
  now?: () => number;
  /** Which ids this provider has; default: the id-shape rule of the provider. */
  owns?: (id: string) => boolean;
  /**
   * Where a task's public result file lives (e.g. a signed link on a "CDN" origin,
   * src/simulators/media/cdn.ts); default: this simulator's own `/files/<id>.webm`.
   */
  publicFileUrl?: (id: string) => string;
}

export interface Simulator {
  /** Origin without a trailing slash, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly provider: string;
  /** The environment a gateway needs to use this simulator: its credentials and base URL. */
  readonly env: Readonly<Record<string, string>>;
  /** The credential values it accepts, by setting name. */
  readonly credentials: Readonly<Record<string, string>>;
  /** The headers a client calling it directly sends (the benchmarks' reference). */
  readonly clientHeaders: Readonly<Record<string, string>>;
  /** Task-status requests received for that id, or in all; faulted and rejected ones count. */
  hits(id?: string): number;
  /** The name of every request header received (lower case), on any path: what the gateway sends providers. */
  receivedHeaderNames(): ReadonlySet<string>;
  /** Pins a task's story (`*`: of every id not pinned on its own); its clock restarts at its next poll, or now with `startClock`. */
  setTask(id: string, script: TaskScript): void;
  /** Queues a fault for an id (`*` = every id). Faults of one id apply in injection order. */
  injectFault(id: string, fault: Fault): void;
  clearFaults(id?: string): void;
  /** Forgets clocks, hits, pinned tasks, faults and the header names received. */
  reset(): void;
  /** Stops listening and destroys open sockets (hanging and dripping ones included). */
  close(): Promise<void>;
}

/** What the simulator has decided about an existing task; built at its first request. */
interface TaskState {
  readonly plan: TaskPlan;
  /** A pinned verbatim answer, sent instead of rendering the timeline. */
  readonly raw: PreparedAnswer | undefined;
  readonly resultUrl: string;
  /** Wall-clock ms of the first poll: the task's clock starts here. */
  firstPollAt: number | undefined;
  /** Prepared answer per view and phase index, filled on first use. */
  readonly answers: Map<string, PreparedAnswer>;
}

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

const FILES_PREFIX = '/files/';
/** Bodies a provider call may carry (a POST's JSON, a token request's form). */
const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/** The script (and fault) key that stands for every id; never a valid task id itself. */
const EVERY_ID = '*';
/** What `/files/<id>.<extension>` serves, whatever the id: a CDN needs no task to exist. */
const FILE_ASSETS: ReadonlyMap<string, CommittedAssetName> = new Map([
  ['webm', 'sample.webm'],
  ['mp4', 'sample.mp4'],
  ['webp', 'thumbnail.webp'],
  ['jpg', 'thumbnail.jpg'],
]);

function decodeId(encoded: string): string | undefined {
  if (encoded === '' || encoded.includes('/')) return undefined;
  if (!encoded.includes('%')) return encoded;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** A request's body as text, refused past MAX_REQUEST_BODY_BYTES. */
async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Ranges, HEAD and validators as serve.ts does them; a failed write just drops the socket. */
function serveFile(request: IncomingMessage, response: ServerResponse, asset: Asset): void {
  serveAsset(request, response, asset).catch(() => response.destroy());
}

function prepareRaw(raw: RawAnswer): PreparedAnswer {
  const body = typeof raw.body === 'string' ? raw.body : JSON.stringify(raw.body);
  return withHeaders(prepareAnswer(raw.status, body, JSON_CONTENT_TYPE), raw.headers);
}

function withHeaders(answer: PreparedAnswer, headers: Readonly<Record<string, string>> | undefined): PreparedAnswer {
  for (const [name, value] of Object.entries(headers ?? {})) answer.headers[name.toLowerCase()] = value;
  return answer;
}

function originOf(host: string, port: number): string {
  const reachableHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`;
}

export class ProviderSimulator implements Simulator, ControlTarget {
  readonly provider: string;
  private origin = '';
  private readonly server: Server;
  private simCredentials: SimCredentials | undefined;
  private readonly timeScale: number;
  private readonly now: () => number;
  private readonly owns: (id: string) => boolean;
  private readonly scripts = new Map<string, TaskScript>();
  /** null: the provider has no such task. */
  private readonly tasks = new Map<string, TaskState | null>();
  private readonly faults = new Map<string, QueuedFault[]>();
  private readonly hitsById = new Map<string, number>();
  /** Arrival times of status requests for pinned ids (a benchmark's clock of upstream calls). */
  private readonly hitTimesById = new Map<string, number[]>();
  private totalHits = 0;
  private readonly headerNames = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing: Promise<void> | undefined;
  private readonly notFoundAnswer: PreparedAnswer;

  constructor(
    private readonly profile: ProviderProfile,
    private readonly options: SimulatorOptions,
  ) {
    const timeScale = options.timeScale ?? 1;
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new Error(`timeScale must be a positive number, got ${timeScale}`);
    this.provider = profile.name;
    this.timeScale = timeScale;
    this.now = options.now ?? Date.now;
    this.owns = options.owns ?? profile.owns;
    this.notFoundAnswer = prepareError(profile.notFound());
    this.server = createServer(this.handleRequest);
    // Keep-alive well past any client's idle pool timeout, so benchmarks reuse sockets.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  get url(): string {
    return this.origin;
  }

  get env(): Readonly<Record<string, string>> {
    return this.accepted().env;
  }

  get credentials(): Readonly<Record<string, string>> {
    return this.accepted().values;
  }

  get clientHeaders(): Readonly<Record<string, string>> {
    const credentials = this.accepted();
    return this.profile.clientHeaders?.(credentials) ?? { authorization: `Bearer ${credentials.values['apiKey'] ?? ''}` };
  }

  private accepted(): SimCredentials {
    if (this.simCredentials === undefined) throw new Error(`the ${this.provider} simulator is not listening yet`);
    return this.simCredentials;
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.origin = originOf(host, (this.server.address() as AddressInfo).port);
    const values = this.options.credentials ?? simulatorCredentialValues(this.provider);
    try {
      // Unknown names would leave a gateway silently unconfigured: say so at once.
      const declared = definitionOf(this.provider).credentials.map((spec) => spec.setting);
      for (const name of Object.keys(values)) if (!declared.includes(name)) throw new Error(`${this.provider} has no credential "${name}" (it has: ${declared.join(', ')})`);
      this.simCredentials = (await this.profile.credentials?.(values, this.origin)) ?? plainCredentials(this.provider, values, this.origin);
    } catch (error) {
      // Not left listening: a caller that gets the error has nothing to close.
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      throw error;
    }
  }

  hits(id?: string): number {
    return id === undefined ? this.totalHits : (this.hitsById.get(id) ?? 0);
  }

  receivedHeaderNames(): ReadonlySet<string> {
    return this.headerNames;
  }

  hitTimes(id: string): number[] {
    return [...(this.hitTimesById.get(id) ?? [])];
  }

  hitCounts(): { total: number; byId: Record<string, number> } {
    return { total: this.totalHits, byId: Object.fromEntries(this.hitsById) };
  }

  setTask(id: string, script: TaskScript): void {
    const parsed = taskScriptSchema.parse(script);
    if (parsed.variant !== undefined && !this.profile.variants.includes(parsed.variant)) {
      throw new Error(`${this.provider} has no "${parsed.variant}" variant (it has: ${this.profile.variants.join(', ')})`);
    }
    // A copy sorted by time, so the phase lookup can stop at the first future phase.
    if (parsed.timeline !== undefined) parsed.timeline = [...parsed.timeline].sort((left, right) => left.atMs - right.atMs);
    this.scripts.set(id, parsed);
    if (id !== EVERY_ID) {
      this.tasks.delete(id);
      if (parsed.startClock === true) {
        const state = this.taskState(id);
        if (state !== null) state.firstPollAt = this.now();
      }
      return;
    }
    for (const known of this.tasks.keys()) if (!this.scripts.has(known)) this.tasks.delete(known);
  }

  injectFault(id: string, fault: Fault): void {
    const parsed = faultSchema.parse(fault);
    const queue = this.faults.get(id) ?? [];
    queue.push({ fault: parsed, remaining: parsed.times ?? Number.POSITIVE_INFINITY });
    this.faults.set(id, queue);
  }

  clearFaults(id?: string): void {
    if (id === undefined) this.faults.clear();
    else this.faults.delete(id);
  }

  reset(): void {
    this.scripts.clear();
    this.tasks.clear();
    this.faults.clear();
    this.hitsById.clear();
    this.hitTimesById.clear();
    this.totalHits = 0;
    this.headerNames.clear();
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.server.close(() => resolve());
      // Hanging and dripping responses would otherwise hold close() until their client quits.
      this.server.closeAllConnections();
    }).then(() => this.simCredentials?.close?.());
    return this.closing;
  }

  /** Bound once: the request listener must not allocate a closure per request. */
  private readonly handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
    const rawUrl = request.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const method = request.method ?? 'GET';
    for (const name in request.headers) this.headerNames.add(name);

    if (path.startsWith(CONTROL_PREFIX)) {
      handleControl(this, request, response, path).catch(() => response.destroy());
      return;
    }
    if ((method === 'GET' || method === 'HEAD') && path.startsWith(FILES_PREFIX)) return this.answerFile(path, request, response);
    if (method === 'GET' || method === 'HEAD') return this.answerRequest(this.simRequest(request, path, rawUrl, queryAt, ''), request, response);
    readBody(request).then(
      (body) => this.answerRequest(this.simRequest(request, path, rawUrl, queryAt, body), request, response),
      () => response.destroy(),
    );
  };

  private simRequest(request: IncomingMessage, path: string, rawUrl: string, queryAt: number, body: string): SimRequest {
    return {
      method: request.method ?? 'GET',
      path,
      query: new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1)),
      headers: request.headers,
      body,
    };
  }

  private answerRequest(simRequest: SimRequest, request: IncomingMessage, response: ServerResponse): void {
    const route = this.profile.route === undefined ? this.defaultRoute(simRequest) : this.profile.route(simRequest, this.accepted());
    if (route === undefined) return sendAnswer(response, prepareError(this.profile.unknownPath(simRequest.method, simRequest.path)));
    if (route.kind === 'status') return this.answerTaskStatus(route, simRequest, request, response);
    const refused = route.kind === 'answer' && route.open === true ? undefined : this.refusal(simRequest);
    if (refused !== undefined) return sendAnswer(response, prepareError(refused));
    if (route.kind === 'answer') return sendAnswer(response, prepareError(route.answer));
    if (this.taskState(route.id) === null) return sendAnswer(response, this.notFoundAnswer);
    serveFile(request, response, loadAsset(route.asset));
  }

  /** A one-GET provider: its status path, and its key-gated downloads (gravitex's, OpenAI's). */
  private defaultRoute(request: SimRequest): SimRoute | undefined {
    const { taskPathPrefix } = this.profile;
    if (request.method === 'GET' && request.path.startsWith(taskPathPrefix)) {
      const id = decodeId(request.path.slice(taskPathPrefix.length));
      if (id !== undefined) return { kind: 'status', id };
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    const content = this.profile.contentRoute(request.path, request.query);
    if (content === undefined) return undefined;
    if ('error' in content) return { kind: 'answer', answer: content.error };
    const id = decodeId(content.encodedId);
    return id === undefined ? { kind: 'answer', answer: this.profile.notFound() } : { kind: 'content', id, asset: content.asset };
  }

  /** The provider's refusal of these credentials, if it refuses them. */
  private refusal(request: SimRequest): ErrorAnswer | undefined {
    const credentials = this.accepted();
    if (this.profile.authorize !== undefined) return this.profile.authorize(request, credentials);
    return request.headers.authorization === `Bearer ${credentials.values['apiKey'] ?? ''}` ? undefined : this.profile.unauthorized();
  }

  /** Result files are public (no key), like a CDN URL: the committed file of the extension. */
  private answerFile(path: string, request: IncomingMessage, response: ServerResponse): void {
    const name = FILE_ASSETS.get(path.slice(path.lastIndexOf('.') + 1));
    if (name === undefined) return sendAnswer(response, prepareError(this.profile.unknownPath(request.method ?? 'GET', path)));
    serveFile(request, response, loadAsset(name));
  }

  private recordHitTime(id: string): void {
    let times = this.hitTimesById.get(id);
    if (times === undefined) this.hitTimesById.set(id, (times = []));
    if (times.length >= 10_000) times.shift();
    times.push(Date.now());
  }

  private answerTaskStatus(route: { id: string; view?: string }, simRequest: SimRequest, request: IncomingMessage, response: ServerResponse): void {
    const { id, view } = route;
    this.totalHits++;
    this.hitsById.set(id, (this.hitsById.get(id) ?? 0) + 1);
    if (this.scripts.has(id)) this.recordHitTime(id);
    const refused = this.refusal(simRequest);
    if (refused !== undefined) return sendAnswer(response, prepareError(refused));
    const fault = this.faults.size === 0 ? undefined : (this.takeFault(id) ?? this.takeFault(EVERY_ID));
    if (fault === undefined) return sendAnswer(response, this.currentAnswer(id, view));
    applyFault(fault, {
      request,
      response,
      profile: this.profile,
      normalAnswer: () => this.currentAnswer(id, view),
      schedule: (callback, delayMs) => this.schedule(callback, delayMs),
    });
  }

  private takeFault(id: string): Fault | undefined {
    const queue = this.faults.get(id);
    const head = queue?.[0];
    if (queue === undefined || head === undefined) return undefined;
    head.remaining--;
    if (head.remaining <= 0) {
      queue.shift();
      if (queue.length === 0) this.faults.delete(id);
    }
    return head.fault;
  }

  private schedule(callback: () => void, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, delayMs);
    this.timers.add(timer);
  }

  /** The answer this id deserves right now, at one of the provider's calls; starts its clock on the first call. */
  private currentAnswer(id: string, view: string | undefined): PreparedAnswer {
    const state = this.taskState(id);
    if (state === null) return view === undefined ? this.notFoundAnswer : prepareError(this.profile.notFound(view));
    if (state.raw !== undefined) return state.raw;
    const now = this.now();
    state.firstPollAt ??= now;
    const index = phaseIndexAt(state.plan.timeline, (now - state.firstPollAt) / this.timeScale);
    const key = view === undefined ? String(index) : `${view}:${index}`;
    let answer = state.answers.get(key);
    if (answer === undefined) {
      answer = this.renderPhase(id, state, state.firstPollAt, index, view);
      state.answers.set(key, answer);
    }
    return answer;
  }

  private taskState(id: string): TaskState | null {
    let state = this.tasks.get(id);
    if (state === undefined) {
      state = this.resolveTask(id);
      this.tasks.set(id, state);
    }
    return state;
  }

  private resolveTask(id: string): TaskState | null {
    // A pinned `*` story makes every id exist (e.g. a new id per request in the benchmarks).
    const pinned = this.scripts.get(id) ?? this.scripts.get(EVERY_ID);
    const plan = planTask(this.profile, id, pinned, this.owns);
    if (plan === undefined) return null;
    return {
      plan,
      raw: pinned?.raw === undefined ? undefined : prepareRaw(pinned.raw),
      resultUrl: pinned?.resultUrl ?? plan.seed?.resultUrl ?? this.options.publicFileUrl?.(id) ?? `${this.origin}${filePath(id, VIDEO_EXTENSION)}`,
      firstPollAt: undefined,
      answers: new Map(),
    };
  }

  private renderPhase(id: string, state: TaskState, firstPollAt: number, index: number, view: string | undefined): PreparedAnswer {
    const { timeline, variant, model, seed } = state.plan;
    const phase = timeline[index];
    if (phase === undefined) throw new Error(`no phase ${index} for task ${id}`);
    const wallClockOf = (atMs: number): number => firstPollAt + atMs * this.timeScale;
    const started = timeline.slice(0, index + 1).find((candidate) => candidate.status !== 'queued');
    const input: RenderInput = {
      id,
      model,
      phase,
      createdAtMs: firstPollAt,
      startedAtMs: started === undefined ? undefined : wallClockOf(started.atMs),
      completedAtMs: isTerminal(phase.status) ? wallClockOf(phase.atMs) : undefined,
      resultUrl: state.resultUrl,
      baseUrl: this.origin,
      seeded: seed !== undefined,
    };
    const rendered = this.profile.render(variant, input, view);
    if (isSimAnswer(rendered)) {
      const body = typeof rendered.body === 'string' ? rendered.body : JSON.stringify(rendered.body);
      return withHeaders(prepareAnswer(rendered.status, body, JSON_CONTENT_TYPE), rendered.headers);
    }
    const answer = prepareAnswer(200, JSON.stringify(rendered), JSON_CONTENT_TYPE);
    return withHeaders(answer, this.profile.statusHeaders?.(variant, input));
  }
}
