/**
 * Which provider holds a task id: id validation, qualified `provider:native` ids, and the
 * ordered rule table. Deciding between several candidates (ambiguous ids) needs upstream
 * calls and lives in src/tasks/lookup.ts.
 */
import { TASK_ID_PATTERN, TASK_ID_RULE } from '../schemas/params.js';
import type { RoutingRule } from './config.js';
import { GatewayError } from './errors.js';
import { Memo } from './memo.js';

export interface Route {
  /** Candidate providers in order of preference; one for a direct route. */
  providers: string[];
  nativeId: string;
  /** True when the id named its provider (`vtrix:…`). */
  qualified: boolean;
}

export function validateTaskId(id: string): void {
  if (!TASK_ID_PATTERN.test(id)) {
    throw new GatewayError('invalid_task_id', { detail: TASK_ID_RULE });
  }
}

interface CompiledRule {
  matches(id: string): boolean;
  providers: string[];
}

export class Router {
  private readonly rules: CompiledRule[];
  /** An id is polled again and again: the rule table is walked once per id. */
  private readonly ruleMatches = new Memo<string, string[] | undefined>(10_000);

  constructor(
    rules: readonly RoutingRule[],
    private readonly knownProviders: ReadonlySet<string>,
  ) {
    this.rules = rules.map((rule) => {
      const { prefix, pattern } = rule;
      if (prefix !== undefined) return { matches: (id) => id.startsWith(prefix), providers: rule.providers };
      const regex = new RegExp(pattern ?? '(?!)');
      return { matches: (id) => regex.test(id), providers: rule.providers };
    });
  }

  /** Validates the id and returns where to look for it; throws the contract's 400/404. */
  resolve(id: string): Route {
    validateTaskId(id);
    const colon = id.indexOf(':');
    if (colon !== -1) {
      // An id containing ":" is always qualified (DESIGN.md, details settled).
      const provider = id.slice(0, colon);
      const nativeId = id.slice(colon + 1);
      if (!this.knownProviders.has(provider)) {
        throw new GatewayError('no_provider_for_task_id', {
          detail: `No provider is named "${provider}".`,
        });
      }
      if (nativeId.length === 0) {
        throw new GatewayError('invalid_task_id', { detail: 'The task id after "provider:" is empty.' });
      }
      return { providers: [provider], nativeId, qualified: true };
    }
    const providers = this.ruleMatches.get(id, this.matchRules);
    if (providers === undefined) {
      throw new GatewayError('no_provider_for_task_id', {
        detail: 'No routing rule matches this id; qualify it as "<provider>:<id>".',
      });
    }
    return { providers, nativeId: id, qualified: false };
  }

  /** The providers of the first rule that matches; undefined when none does. */
  private readonly matchRules = (id: string): string[] | undefined => this.rules.find((rule) => rule.matches(id))?.providers;
}
