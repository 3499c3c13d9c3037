/**
 * Which provider holds a task id: id validation, qualified `provider:native` ids, and the
 * ordered rule table (its defaults come from the rules each provider declares). Deciding between several candidates (ambiguous ids) needs upstream
 * calls and lives in src/tasks/lookup.ts.
 */
import { z } from 'zod';
import { TASK_ID_PATTERN, TASK_ID_RULE } from '../schemas/params.js';
import { GatewayError } from './errors.js';
import { Memo } from './memo.js';
import type { IdRule, ProviderDefinition } from './providers/types.js';

export const RoutingRuleSchema = z
  .object({
    /** Matches ids that start with this text. */
    prefix: z.string().min(1).optional(),
    /** Matches ids this regular expression accepts (anchor it yourself). */
    pattern: z
      .string()
      .min(1)
      .refine((pattern) => {
        try {
          new RegExp(pattern);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid regular expression')
      .optional(),
    /** Candidates in order of preference; more than one makes the id ambiguous. */
    providers: z.array(z.string().min(1)).min(1),
  })
  .strict()
  .refine((rule) => (rule.prefix === undefined) !== (rule.pattern === undefined), {
    error: 'a rule needs exactly one of prefix or pattern',
  });
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

/**
 * The default rule table, from the rules each provider declares: rules with the same
 * matcher merge, their candidates in `order`; the table is sorted by each rule's lowest.
 */
export function defaultRoutes(providers: readonly ProviderDefinition[]): RoutingRule[] {
  const merged = new Map<string, { rule: IdRule; candidates: Array<{ name: string; order: number }> }>();
  for (const provider of providers) {
    for (const rule of provider.idRules) {
      const key = rule.prefix !== undefined ? `prefix:${rule.prefix}` : `pattern:${rule.pattern ?? ''}`;
      const entry = merged.get(key) ?? { rule, candidates: [] };
      entry.candidates.push({ name: provider.name, order: rule.order });
      merged.set(key, entry);
    }
  }
  return [...merged.values()]
    .map(({ rule, candidates }) => ({ rule, candidates: candidates.sort((left, right) => left.order - right.order) }))
    .sort((left, right) => left.candidates[0]!.order - right.candidates[0]!.order)
    .map(({ rule, candidates }) => ({
      ...(rule.prefix !== undefined ? { prefix: rule.prefix } : { pattern: rule.pattern! }),
      providers: candidates.map((candidate) => candidate.name),
    }));
}


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
          detail: `No provider is named "${provider}"; the providers are ${[...this.knownProviders].join(', ')}.`,
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
