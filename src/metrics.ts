/**
 * Prometheus metrics, one registry per app so tests can build many apps side by side.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreStats } from './fleet/store.js';
import { LocalCounts, LocalHistogram, type CounterSeries, type HistogramSeries } from './fast/local-metrics.js';
import type { CircuitState } from './upstream/breaker.js';
import type { ProviderClientObserver } from './providers/client.js';

const CIRCUIT_VALUES: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };
/** Upstream status words are provider-controlled text: bound the label set they can create. */
const MAX_UNKNOWN_STATUS_LABELS = 50;
const MAX_LABEL_CHARACTERS = 40;
// Control, format, private-use and unassigned characters, and line/paragraph separators.
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/gu;

/**
 * Provider-controlled text as a label value: lower case, every unprintable character (NUL,
 * ESC, CR…) replaced by `_`, at most 40 characters (never half a surrogate pair).
 */
export function labelValue(text: string): string {
  const printable = text.toLowerCase().replace(UNPRINTABLE, '_').trim();
  const bounded = printable.length <= MAX_LABEL_CHARACTERS ? printable : Array.from(printable).slice(0, MAX_LABEL_CHARACTERS).join('');
  return bounded === '' ? '_' : bounded;
}

export type CircuitReader = () => CircuitState;

export class Metrics implements ProviderClientObserver {
  readonly registry = new Registry();
  // What every request or upstream call counts is counted locally (src/fast/local-metrics.ts)
  // and handed to the registry when it is read.
  private readonly httpRequestCounts = new LocalCounts<'method' | 'route' | 'status'>();
  readonly httpRequests = this.httpRequestCounts.attach(
    new Counter({
      name: 'taskgate_http_requests_total',
      help: 'HTTP requests answered, by route and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [this.registry],
      collect: () => this.httpRequestCounts.flush(),
    }),
  );
  readonly httpDuration = new LocalHistogram({
    name: 'taskgate_http_request_duration_seconds',
    help: 'Time to answer HTTP requests (long-poll and SSE excluded)',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  }).register(this.registry);
  private readonly upstreamCounts = new LocalCounts<'provider' | 'outcome'>();
  readonly upstreamRequests = this.upstreamCounts.attach(
    new Counter({
      name: 'taskgate_upstream_requests_total',
      help: 'Upstream HTTP attempts, by provider and outcome (status code, timeout, connection_error, oversized)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [this.registry],
      collect: () => this.upstreamCounts.flush(),
    }),
  );
  readonly upstreamDuration = new LocalHistogram({
    name: 'taskgate_upstream_request_duration_seconds',
    help: 'Latency of upstream HTTP attempts',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }).register(this.registry);
  readonly upstreamRetries = new Counter({
    name: 'taskgate_upstream_retries_total',
    help: 'Upstream attempts retried, by provider and reason',
    labelNames: ['provider', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly circuitReaders = new Map<string, CircuitReader>();
  readonly circuitState = new Gauge({
    name: 'taskgate_circuit_state',
    help: 'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'] as const,
    registers: [this.registry],
    // As of the scrape: an open circuit whose open time has passed reads as half-open.
    collect: () => {
      for (const [provider, read] of this.circuitReaders) this.onCircuitState(provider, read());
    },
  });
  private readonly budgetReaders = new Map<string, () => number>();
  readonly budgetWaiting = new Gauge({
    name: 'taskgate_upstream_budget_waiting',
    help: 'Background polls waiting for a turn in their provider\'s upstream budget (providers.<name>.maxRequestsPerSecond)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [provider, read] of this.budgetReaders) this.budgetWaiting.set({ provider }, read());
    },
  });
  readonly unknownStatuses = new Counter({
    name: 'taskgate_unknown_upstream_status_total',
    help: 'Upstream status words outside the mapping (served as in_progress)',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
  });
  private readonly cacheCounts = new LocalCounts<'cache' | 'result'>();
  readonly cacheLookups = this.cacheCounts.attach(
    new Counter({
      name: 'taskgate_cache_lookups_total',
      help: 'Task cache lookups, by cache (terminal, fresh, not_found) and result (hit, miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [this.registry],
      collect: () => this.cacheCounts.flush(),
    }),
  );
  private readonly coalescedCounts = new LocalCounts<never>();
  readonly coalescedRequests = this.coalescedCounts.attach(
    new Counter({
      name: 'taskgate_coalesced_requests_total',
      help: 'Lookups that joined an upstream call already in flight for the same task',
      registers: [this.registry],
      collect: () => this.coalescedCounts.flush(),
    }),
  );
  readonly activeWaiters = new Gauge({
    name: 'taskgate_active_waiters',
    help: 'Listeners of a task\'s poll loop: waiting clients (wait, sse) and tasks watched for their webhooks (webhook)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  /** The cap (`waiters.max`), so a dashboard and an alert can tell how near it the waiters are. */
  readonly waitersMax = new Gauge({
    name: 'taskgate_waiters_max',
    help: 'Waiting clients (long-poll and SSE) this gateway holds at most (waiters.max); past it, 503',
    registers: [this.registry],
  });
  readonly activePollLoops = new Gauge({
    name: 'taskgate_active_poll_loops',
    help: 'Tasks currently polled upstream on behalf of waiting clients',
    registers: [this.registry],
  });
  readonly contentRequests = new Counter({
    name: 'taskgate_content_requests_total',
    help: 'Result file requests (GET/HEAD /tasks/{id}/content), by provider and outcome (HTTP status passed back, or problem code)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly contentBytes = new Counter({
    name: 'taskgate_content_bytes_total',
    help: 'Result file bytes streamed to clients, by provider',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly openConnections = new Gauge({
    name: 'taskgate_http_open_connections',
    help: 'Client connections currently open',
    registers: [this.registry],
  });
  readonly refusedConnections = new Counter({
    name: 'taskgate_http_connections_refused_total',
    help: 'Connections refused with a 503 because http.maxConnections were open',
    registers: [this.registry],
  });
  readonly cutConnections = new Counter({
    name: 'taskgate_http_connections_cut_total',
    help: 'Connections the gateway closed before their request had arrived, by reason (timeout, body_idle, header_overflow, malformed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly memoryReclaims = new Counter({
    name: 'taskgate_memory_reclaims_total',
    help: 'Memory-reducing collections made after a burst of held waits and streams ended (the freed memory given back to the system)',
    registers: [this.registry],
  });
  readonly droppedLogLines = new Counter({
    name: 'taskgate_log_lines_dropped_total',
    help: 'Log lines dropped because the log sink (stdout) was not taking them',
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'taskgate_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, failed: a non-2xx answer, gone: 410, timeout, error: no answer, blocked: refused target), and deliveries given up after 24 h (abandoned)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly redisDataLost = new Counter({
    name: 'taskgate_redis_data_lost_total',
    help: 'Times this replica found that Redis had lost its data (fleet mode with webhooks: a marker key it keeps was gone or replaced), e.g. a restart without persistence',
    registers: [this.registry],
  });
  private readonly unknownStatusLabels = new Set<string>();
  readonly terminalHit = this.cacheCounts.series('terminal hit', { cache: 'terminal', result: 'hit' });
  readonly freshHit = this.cacheCounts.series('fresh hit', { cache: 'fresh', result: 'hit' });
  readonly cacheMiss = this.cacheCounts.series('terminal miss', { cache: 'terminal', result: 'miss' });
  readonly notFoundHit = this.cacheCounts.series('not_found hit', { cache: 'not_found', result: 'hit' });
  readonly coalesced = this.coalescedCounts.series('', {});
  /** The HTTP series of each route: its latency histogram, and its counters by method and status. */
  private readonly httpSeries = new Map<string, { timer: HistogramSeries<'route'>; counters: Map<string, Map<number, CounterSeries<'method' | 'route' | 'status'>>> }>();
  /** The upstream series of each provider, by outcome. */
  private readonly attemptSeries = new Map<string, { timer: HistogramSeries<'provider'>; outcomes: Map<string, CounterSeries<'provider' | 'outcome'>> }>();

  /** prom-client's process and runtime metrics are started at the first scrape, not at boot (BENCHMARKS.md, "Start-up"). */
  private processMetricsPending: boolean;

  constructor(options: { processMetrics?: boolean } = {}) {
    this.processMetricsPending = options.processMetrics ?? true;
  }

  /** The Prometheus text of every metric (what `/metrics` answers). */
  async text(): Promise<string> {
    if (this.processMetricsPending) {
      this.processMetricsPending = false;
      collectDefaultMetrics({ register: this.registry, prefix: 'taskgate_' });
    }
    return this.registry.metrics();
  }

  /** Counts an answered request (and its latency unless it was held: SSE, long-poll). */
  onHttpResponse(method: string, route: string, status: number, seconds: number | undefined): void {
    let byRoute = this.httpSeries.get(route);
    if (byRoute === undefined) {
      byRoute = { timer: this.httpDuration.series(route, { route }), counters: new Map() };
      this.httpSeries.set(route, byRoute);
    }
    // Found without building a key or a label object: the route and method strings are the same objects every time.
    let byStatus = byRoute.counters.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byRoute.counters.set(method, byStatus);
    }
    let counter = byStatus.get(status);
    if (counter === undefined) {
      counter = this.httpRequestCounts.series(`${method} ${status} ${route}`, { method, route, status });
      byStatus.set(status, counter);
    }
    counter.inc();
    if (seconds !== undefined) byRoute.timer.observe(seconds);
  }

  onContentRequest(provider: string, outcome: string): void {
    this.contentRequests.inc({ provider, outcome });
  }

  onContentBytes(provider: string, bytes: number): void {
    this.contentBytes.inc({ provider }, bytes);
  }

  /** Fleet mode: Redis health, leases held and subscriptions, read from the store at each scrape. */
  trackFleet(stats: () => StoreStats): void {
    new Gauge({
      name: 'taskgate_redis_up',
      help: '1 while Redis answers (fleet mode), 0 while this replica works on its own',
      registers: [this.registry],
      collect() {
        this.set(stats().redisUp === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'taskgate_fleet_leases_held',
      help: 'Fleet leases this replica holds: poll (one per task it polls for the fleet), flight (upstream calls it runs for the fleet)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        const current = stats();
        this.set({ kind: 'poll' }, current.pollLeases);
        this.set({ kind: 'flight' }, current.flightLeases);
      },
    });
    new Gauge({
      name: 'taskgate_redis_subscriptions',
      help: 'Redis channels this replica subscribes (one per watched task, however many clients wait on it)',
      registers: [this.registry],
      collect() {
        this.set(stats().subscriptions);
      },
    });
  }

  /** Webhook deliveries not yet done, read at each scrape (fleet mode: the fleet's, the same on every replica). */
  trackWebhookQueue(stats: () => Promise<{ depth: number; oldestCreatedAt: number | undefined } | undefined>): void {
    type QueueStats = { depth: number; oldestCreatedAt: number | undefined };
    let latest: QueueStats | undefined;
    let reading: Promise<QueueStats | undefined> | undefined;
    let readAt = 0;
    // Both gauges are collected at once (Promise.all): one read of the store serves the scrape.
    const read = (): Promise<QueueStats | undefined> => {
      if (reading === undefined || Date.now() - readAt > 250) {
        readAt = Date.now();
        reading = stats().then(
          (current) => (latest = current ?? latest),
          () => latest,
        );
      }
      return reading;
    };
    new Gauge({
      name: 'taskgate_webhook_queue_depth',
      help: 'Webhook deliveries pending (due now or waiting for a retry); in fleet mode the fleet\'s, the same on every replica',
      registers: [this.registry],
      async collect() {
        this.set((await read())?.depth ?? 0);
      },
    });
    new Gauge({
      name: 'taskgate_webhook_oldest_pending_seconds',
      help: 'Age of the oldest pending webhook delivery since its event, 0 when none is pending',
      registers: [this.registry],
      async collect() {
        const oldest = (await read())?.oldestCreatedAt;
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
  }

  onAttempt(provider: string, outcome: string, seconds: number): void {
    let series = this.attemptSeries.get(provider);
    if (series === undefined) {
      series = { timer: this.upstreamDuration.series(provider, { provider }), outcomes: new Map() };
      this.attemptSeries.set(provider, series);
    }
    let counter = series.outcomes.get(outcome);
    if (counter === undefined) {
      counter = this.upstreamCounts.series(`${provider} ${outcome}`, { provider, outcome });
      series.outcomes.set(outcome, counter);
    }
    counter.inc();
    series.timer.observe(seconds);
  }

  onRetry(provider: string, reason: string): void {
    this.upstreamRetries.inc({ provider, reason });
  }

  onCircuitState(provider: string, state: CircuitState): void {
    this.circuitState.set({ provider }, CIRCUIT_VALUES[state]);
  }

  /** Reads how many background polls wait for this provider's budget at every scrape. */
  watchBudget(provider: string, read: () => number): void {
    this.budgetReaders.set(provider, read);
  }

  /** Reads this provider's circuit at every scrape, so the gauge is never stale. */
  watchCircuit(provider: string, read: CircuitReader): void {
    this.circuitReaders.set(provider, read);
  }

  onUnknownStatus(provider: string, word: string): void {
    let label = labelValue(word);
    if (!this.unknownStatusLabels.has(label)) {
      if (this.unknownStatusLabels.size >= MAX_UNKNOWN_STATUS_LABELS) label = 'other';
      else this.unknownStatusLabels.add(label);
    }
    this.unknownStatuses.inc({ provider, status: label });
  }
}
