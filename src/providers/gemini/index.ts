/**
 * gemini: Google Veo on the Gemini API. A task is a long-running operation named
 * `models/{model}/operations/{op}`, asked with `GET {base}/v1beta/{name}` and the key in
 * `x-goog-api-key`; its video URIs are on the API's own origin and need the key, so the
 * gateway serves them through `/content` (docs/providers/gemini.md).
 */
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { apiKeyCredential } from '../define.js';
import { classifyHttpError, getHeader, isSuccessStatus, readTaskBody, tryParseJson } from '../http.js';
import { firstNonEmptyString } from '../normalize.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import {
  apiErrorInBody,
  GEMINI_NAME,
  GEMINI_STATUS_WORDS,
  isAboutTheKey,
  OPERATION_NAME,
  operationPath,
  parseOperationName,
  toTaskDraft,
} from './map.js';
import { ErrorEnvelopeSchema, OperationSchema, type Operation } from './schema.js';

const TEMPLATE = '/v1beta/models/{model}/operations/{operation}';
const isNotFound = (response: UpstreamResponse): boolean => response.statusCode === 404;
/** Raw material for the logs only: never a `detail`. */
const causeOf = (response: UpstreamResponse) => ({ statusCode: response.statusCode, bodyExcerpt: response.body.slice(0, 500) });

/** A non-2xx answer: Google says a wrong key with a 400 (`API_KEY_INVALID`), not a 401. */
function httpError(response: UpstreamResponse): GatewayError {
  const envelope = ErrorEnvelopeSchema.safeParse(tryParseJson(response.body));
  if (response.statusCode === 400 && envelope.success && isAboutTheKey(envelope.data.error)) {
    return new GatewayError('upstream_auth_failed', {
      provider: GEMINI_NAME,
      cause: causeOf(response),
      detail: `${GEMINI_NAME} rejected the gateway's credentials (HTTP 400)`,
    });
  }
  return classifyHttpError(response, { provider: GEMINI_NAME, isNotFound });
}

/** The operation in a 2xx answer; an error envelope there is no task, and neither is a body that names nothing. */
function readOperation(response: UpstreamResponse): Operation {
  if (!isSuccessStatus(response.statusCode)) throw httpError(response);
  const operation = readTaskBody(response, { provider: GEMINI_NAME, isNotFound, schema: OperationSchema });
  const { error } = operation;
  if (operation.done !== true && typeof error === 'object' && error !== null) {
    throw apiErrorInBody(error, getHeader(response.headers, 'retry-after'), causeOf(response));
  }
  const namesNothing = (operation.done === undefined || operation.done === null) && firstNonEmptyString(operation.name) === null;
  if (namesNothing) throw new GatewayError('upstream_invalid_response', { provider: GEMINI_NAME, detail: `${GEMINI_NAME} returned a task in an unexpected shape` });
  return operation;
}

export const gemini: ProviderDefinition<typeof GEMINI_NAME> = {
  name: GEMINI_NAME,
  title: 'Google Veo on the Gemini API',
  credentials: [apiKeyCredential(GEMINI_NAME)],
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  // Google's samples poll an operation every 10 s.
  cadenceMs: 10_000,
  // Looser than the id form, so a malformed operation name gets a 400 naming the form, not a 404.
  idRules: [{ pattern: '^models/[^/]+/operations/[^/]+$', order: 50 }],
  nativeIds: {
    pattern: OPERATION_NAME,
    description: 'an operation name, models/{model}/operations/{operation}, each part letters, digits, ".", "_" and "-" (not "." or "..")',
    example: 'models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1',
  },
  statuses: GEMINI_STATUS_WORDS,
  connect({ settings }) {
    const headers = { 'x-goog-api-key': settings.credentials['apiKey'] ?? '' };
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        const name = parseOperationName(nativeId);
        // The gateway checks the form before any lookup; this keeps a direct caller from walking the path.
        if (name === undefined) throw new GatewayError('invalid_task_id', { provider: GEMINI_NAME, detail: `A ${GEMINI_NAME} task id is an operation name.` });
        const response = await call.request({ path: operationPath(name), template: TEMPLATE });
        return toTaskDraft(readOperation(response), { nativeId, model: name.model, baseUrl: settings.baseUrl });
      },
    };
  },
};
