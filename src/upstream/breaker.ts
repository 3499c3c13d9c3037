/**
 * A per-provider circuit breaker. After `failureThreshold` consecutive failed lookups the
 * circuit opens and lookups are refused without touching the provider; after `openMs` one
 * probe is let through (half-open): its success closes the circuit, its failure reopens it.
 */
import { GatewayError } from '../errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  provider: string;
  failureThreshold: number;
  openMs: number;
  now?: () => number;
  onStateChange?: (provider: string, state: CircuitState) => void;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private current: CircuitState = 'closed';
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The state as of now: an open circuit whose open time has passed is half-open. */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.openMs) this.transition('half_open');
    return this.current;
  }

  /**
   * Throws provider_unavailable when the call may not go through; true when the call is
   * the one probe of a half-open circuit (its outcome must be recorded, or the circuit
   * would wait for it for ever).
   */
  acquire(): boolean {
    if (this.current === 'closed') return false;
    const elapsed = this.now() - this.openedAt;
    if (this.state === 'half_open' && !this.probing) {
      this.probing = true;
      return true;
    }
    throw this.unavailable(elapsed);
  }

  private unavailable(elapsed: number): GatewayError {
    const retryAfter = Math.max(1, Math.ceil((this.options.openMs - elapsed) / 1000));
    return new GatewayError('provider_unavailable', {
      provider: this.options.provider,
      retryAfter,
      detail: `${this.options.provider} is failing; the gateway stops asking it for a while.`,
    });
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.probing = false;
    this.failures++;
    const { failureThreshold } = this.options;
    // A threshold of 0 means the circuit never opens.
    if (failureThreshold === 0) return;
    if (this.current === 'half_open' || (this.current === 'closed' && this.failures >= failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  private transition(state: CircuitState): void {
    this.current = state;
    this.options.onStateChange?.(this.options.provider, state);
  }
}
