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


/** Where a task may be: a provider and the id it knows it by. */
export interface Candidate {
  provider: string;
  nativeId: string;
}

export interface Route {
  /** Where to ask, in order of preference; more than one makes the id ambiguous. */
  candidates: readonly Candidate[];
  /** The id after the provider's name, or the whole id when it named none. */
  nativeId: string;
  /** True when the id named its provider (`vtrix:…`). */
  qualified: boolean;
}

/** What routing needs to know of each provider: its id form, and the native ids one id may be. */
export type RoutedProvider = Pick<ProviderDefinition, 'name' | 'nativeIds' | 'expand'>;

export function validateTaskId(id: string): void {
  if (!TASK_ID_PATTERN.test(id)) {
    throw new GatewayError('invalid_task_id', { detail: TASK_ID_RULE });
  }
}

/** Why an id cannot be routed, kept per id like a route. */
interface Refusal {
  code: 'invalid_task_id' | 'no_provider_for_task_id';
  detail: string;
}

interface CompiledRule {
  matches(id: string): boolean;
  providers: string[];
}

export class Router {
  private readonly rules: CompiledRule[];
  /** An id is polled again and again: it is routed once per memo generation. */
  private readonly routes = new Memo<string, Route | Refusal>(10_000);

  constructor(
    rules: readonly RoutingRule[],
    private readonly providers: ReadonlyMap<string, RoutedProvider>,
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
    // A qualified id is routed in a few steps, fewer than remembering it takes; the rule
    // table's scan is what the memo saves.
    const colon = id.indexOf(':');
    const route = colon === -1 ? this.routes.get(id, this.route) : this.qualified(id, colon);
    // A new error per request: an error object carries its request's fate (cause, stack).
    if ('code' in route) throw new GatewayError(route.code, { detail: route.detail });
    return route;
  }

  /** An id containing ":" is always qualified: `provider:nativeId`. */
  private qualified(id: string, colon: number): Route | Refusal {
    const name = id.slice(0, colon);
    if (!this.providers.has(name)) {
      return { code: 'no_provider_for_task_id', detail: `No provider is named "${name}"; the providers are ${[...this.providers.keys()].join(', ')}.` };
    }
    const nativeId = id.slice(colon + 1);
    if (nativeId.length === 0) return { code: 'invalid_task_id', detail: 'The task id after "provider:" is empty.' };
    return this.toRoute([name], nativeId, true);
  }

  /** An unqualified id, by the rule table. */
  private readonly route = (id: string): Route | Refusal => {
    const names = this.rules.find((rule) => rule.matches(id))?.providers;
    if (names === undefined) {
      return { code: 'no_provider_for_task_id', detail: 'No routing rule matches this id; qualify it as "<provider>:<id>".' };
    }
    return this.toRoute(names, id, false);
  };

  /** The candidates of the providers whose id form the native id has; a 400 naming the forms when none has it. */
  private toRoute(names: readonly string[], nativeId: string, qualified: boolean): Route | Refusal {
    const candidates: Candidate[] = [];
    for (const name of names) {
      const provider = this.providers.get(name);
      if (provider === undefined || !provider.nativeIds.pattern.test(nativeId)) continue;
      if (provider.expand === undefined) candidates.push({ provider: name, nativeId });
      else for (const expanded of provider.expand(nativeId)) candidates.push({ provider: name, nativeId: expanded });
    }
    if (candidates.length > 0) return { candidates, nativeId, qualified };
    const forms = names
      .map((name) => this.providers.get(name))
      .filter((provider) => provider !== undefined)
      .map(({ name, nativeIds }) => `a ${name} task id is ${nativeIds.description}, e.g. ${nativeIds.example}`)
      .join('; ');
    return { code: 'invalid_task_id', detail: `The id does not have the form its provider uses: ${forms}.` };
  }
}
