/**
 * defineHttpProvider: the skeleton every JSON-over-HTTP task API shares, so a provider's
 * folder holds only what is its own: names and defaults, id rules, the status path, its
 * private schema, the pure mapper, and what "not found" looks like.
 */
import type { z } from 'zod';
import type { ProviderProfile } from '../simulators/profile.js';
import type { UpstreamResponse } from '../upstream/types.js';
import { readTaskBody, type NotFoundPredicate } from './http.js';
import { finalizeTask, type TaskDraft } from './normalize.js';
import type { IdRule, InterpretContext, ProviderDefinition } from './types.js';

export interface HttpProviderSpec<Name extends string, Body> {
  name: Name;
  envPrefix: string;
  defaultBaseUrl: string;
  /** Default poll cadence, from the provider's own advice. */
  cadenceMs: number;
  idRules: readonly IdRule[];
  /** The status call's path for an already URL-encoded native id. */
  taskPath: (encodedId: string) => string;
  /** Default: `Authorization: Bearer <key>`. */
  auth?: (apiKey: string) => Record<string, string>;
  /** The provider's private schema of a 2xx body (every variant it sends). */
  schema: z.ZodType<Body>;
  /** Pure mapping of a parsed body; finalizeTask maps the status and checks invariants. */
  toDraft: (body: Body, context: InterpretContext) => TaskDraft;
  /** Does this non-2xx answer mean "no such task"? Must not throw. */
  isNotFound: NotFoundPredicate;
  /** A cadence the answer itself sets (a response header), in ms. */
  cadenceOf?: (response: UpstreamResponse) => number | undefined;
  simulator: () => Promise<ProviderProfile>;
}

export function bearer(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}` };
}

export function defineHttpProvider<const Name extends string, Body>(spec: HttpProviderSpec<Name, Body>): ProviderDefinition<Name> {
  const auth = spec.auth ?? bearer;
  return {
    name: spec.name,
    envPrefix: spec.envPrefix,
    defaultBaseUrl: spec.defaultBaseUrl,
    defaultPollIntervalMs: spec.cadenceMs,
    idRules: spec.idRules,
    taskPath: (nativeId) => spec.taskPath(encodeURIComponent(nativeId)),
    authHeaders: auth,
    interpret(response, context) {
      const body = readTaskBody(response, { provider: spec.name, isNotFound: spec.isNotFound, schema: spec.schema });
      const state = finalizeTask(spec.name, spec.toDraft(body, context));
      const cadenceMs = spec.cadenceOf?.(response);
      return cadenceMs === undefined ? state : { ...state, cadenceMs };
    },
    simulator: spec.simulator,
  };
}
