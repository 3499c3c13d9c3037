/**
 * defineHttpProvider: the short form of the provider contract for a provider whose task
 * is one GET with a Bearer-style key, answered in JSON. Its folder holds only what is its
 * own: names and defaults, id rules, the status path, its private schema, the pure mapper,
 * and what "not found" looks like. A provider that needs more (several calls, a token, a
 * POST) implements `ProviderDefinition` itself.
 */
import type { z } from 'zod';
import type { UpstreamResponse } from '../upstream/types.js';
import { readTaskBody, type NotFoundPredicate } from './http.js';
import { COMMON_STATUS_WORDS, finalizeTask, StatusTable } from './normalize.js';
import type { CredentialSpec, IdRule, NativeIdForm, ProviderDefinition, StatusWords, TaskDraft, TaskState } from './types.js';

/** What a one-GET provider's mapper knows besides the body. */
export interface InterpretContext {
  /** The native id that was asked for. */
  nativeId: string;
  /** Base URL the request went to; relative result URLs resolve against it. */
  baseUrl: string;
}

export interface HttpProviderSpec<Name extends string, Body> {
  name: Name;
  title: string;
  /** Default: one secret key, `<NAME>_API_KEY`, setting `apiKey`. */
  credentials?: readonly CredentialSpec[];
  defaultBaseUrl: string | undefined;
  baseUrlRequired?: string;
  /** Default poll cadence, from the provider's own advice. */
  cadenceMs: number;
  idRules: readonly IdRule[];
  /** Default: one path segment (ONE_SEGMENT_ID). */
  nativeIds?: NativeIdForm;
  /** Default: the words vtrix, gravitex and the OpenAI family share. */
  statuses?: StatusWords;
  /** The status call's path for an already URL-encoded native id. */
  taskPath: (encodedId: string) => string;
  /**
   * Headers that carry the credentials, made for every request (a provider that wants a new
   * trace id per call gets one); default `Authorization: Bearer <apiKey>`.
   */
  auth?: (credentials: Readonly<Record<string, string>>) => Record<string, string>;
  /** The provider's private schema of a 2xx body (every variant it sends). */
  schema: z.ZodType<Body>;
  /** Pure mapping of a parsed body; finalizeTask maps the status and checks invariants. */
  toDraft: (body: Body, context: InterpretContext) => TaskDraft;
  /** Does this non-2xx answer mean "no such task"? Must not throw. */
  isNotFound: NotFoundPredicate;
  /** A cadence the answer itself sets (a response header), in ms. */
  cadenceOf?: (response: UpstreamResponse) => number | undefined;
}

/** A one-GET provider: the contract, plus its pure parts for tests and tools. */
export interface HttpProviderDefinition<Name extends string = string> extends ProviderDefinition<Name> {
  /** The status call's path for a native id (URL-encoded into it). */
  taskPath(nativeId: string): string;
  /** The answer of the status call as a TaskState, or the GatewayError it means. */
  interpret(response: UpstreamResponse, context: InterpretContext): TaskState;
}

/** Any one URL path segment's worth of characters, but not the dot-segments an upstream proxy would resolve. */
export const ONE_SEGMENT_ID: NativeIdForm = {
  pattern: /^(?!\.\.?$)[A-Za-z0-9._:@-]{1,512}$/,
  description: 'one path segment: letters, digits, ".", "_", ":", "@" and "-" (not "." or "..")',
  example: 'task_abc001',
};

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function apiKeyCredential(name: string): CredentialSpec {
  return { setting: 'apiKey', env: `${name.toUpperCase()}_API_KEY`, secret: true };
}

export function defineHttpProvider<const Name extends string, Body>(spec: HttpProviderSpec<Name, Body>): HttpProviderDefinition<Name> {
  const auth = spec.auth ?? ((credentials) => bearer(credentials['apiKey'] ?? ''));
  const statuses = spec.statuses ?? COMMON_STATUS_WORDS;
  const table = new StatusTable(statuses);
  const template = spec.taskPath('{id}');
  const draftOf = (response: UpstreamResponse, context: InterpretContext): TaskDraft => {
    const body = readTaskBody(response, { provider: spec.name, isNotFound: spec.isNotFound, schema: spec.schema });
    const draft = spec.toDraft(body, context);
    const cadenceMs = spec.cadenceOf?.(response);
    return cadenceMs === undefined ? draft : { ...draft, cadenceMs };
  };
  return {
    name: spec.name,
    title: spec.title,
    credentials: spec.credentials ?? [apiKeyCredential(spec.name)],
    defaultBaseUrl: spec.defaultBaseUrl,
    baseUrlRequired: spec.baseUrlRequired,
    cadenceMs: spec.cadenceMs,
    idRules: spec.idRules,
    nativeIds: spec.nativeIds ?? ONE_SEGMENT_ID,
    statuses,
    taskPath: (nativeId) => spec.taskPath(encodeURIComponent(nativeId)),
    interpret: (response, context) => finalizeTask(spec.name, table, draftOf(response, context)),
    connect({ settings }) {
      // The default Bearer header never changes: made once.
      const fixed = spec.auth === undefined ? auth(settings.credentials) : undefined;
      return {
        authorize: () => fixed ?? auth(settings.credentials),
        async lookup(nativeId, call) {
          const response = await call.request({ path: spec.taskPath(encodeURIComponent(nativeId)), template });
          return draftOf(response, { nativeId, baseUrl: settings.baseUrl });
        },
      };
    },
  };
}
