/**
 * fal: fal.ai's queue API. A request is known by its model id and request id; its status
 * is `GET {base}/{app}/requests/{request_id}/status` and, once COMPLETED, its result (or
 * its error) is a second call, `GET {base}/{app}/requests/{request_id}`, under the same
 * deadline. `Authorization: Key <FAL_KEY>`. See docs/providers/fal.md.
 */
import { classifyHttpError, isSuccessStatus, readTaskBody } from '../http.js';
import { StatusTable } from '../normalize.js';
import type { NativeIdForm, ProviderDefinition, StatusWords, TaskDraft, UpstreamCall } from '../types.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { FAL_NAME, parseNativeId, resultAnswerError, statusBodyError, toOutputs } from './map.js';
import { FalResultSchema, FalStatusSchema } from './schema.js';

/** One segment of a model id: safe characters, and never a dot-segment a proxy would resolve. */
const SEGMENT = String.raw`(?!\.\.?/)[A-Za-z0-9._-]+`;
const UUID = String.raw`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}`;
/** owner/alias, or namespace/owner/alias under `workflows/` and `comfy/`; then any subpath. */
const MODEL_ID = String.raw`(?:(?:workflows|comfy)/${SEGMENT}/${SEGMENT}|(?!(?:workflows|comfy)/)${SEGMENT}/${SEGMENT})(?:/${SEGMENT})*`;

export const FAL_NATIVE_IDS: NativeIdForm = {
  pattern: new RegExp(`^${MODEL_ID}/${UUID}$`),
  description: 'the model id as submitted, then "/" and the request id (a UUID)',
  example: 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video/6f1c2b7e-3d4a-4b8e-9c2f-5a1d7e0b4c93',
};

/** `FAILED` and the cancel words are not in fal's own docs; schemas of fal-compatible queues list them. */
const FAL_STATUS_WORDS: StatusWords = {
  queued: ['IN_QUEUE'],
  in_progress: ['IN_PROGRESS'],
  succeeded: ['COMPLETED'],
  failed: ['FAILED'],
  canceled: ['CANCELED', 'CANCELLED'],
};
const STATUSES = new StatusTable(FAL_STATUS_WORDS);

const STATUS_TEMPLATE = '/{app}/requests/{request_id}/status';
const RESULT_TEMPLATE = '/{app}/requests/{request_id}';

const isNotFound = (response: UpstreamResponse): boolean => response.statusCode === 404;
/** The result call is made only for a request the status call just found: its 404 is no "not found". */
const neverNotFound = (): boolean => false;

/** The draft of a completed request from its result call's answer. */
function completedDraft(draft: TaskDraft, response: UpstreamResponse, baseUrl: string): TaskDraft {
  if (isSuccessStatus(response.statusCode)) {
    const result = readTaskBody(response, { provider: FAL_NAME, isNotFound: neverNotFound, schema: FalResultSchema });
    return { ...draft, outputs: toOutputs(result, baseUrl) };
  }
  // Our credentials or our rate, not the request's fate.
  const { statusCode } = response;
  if (statusCode === 401 || statusCode === 403 || statusCode === 429) {
    throw classifyHttpError(response, { provider: FAL_NAME, isNotFound: neverNotFound });
  }
  const error = resultAnswerError(response);
  if (error === null) throw classifyHttpError(response, { provider: FAL_NAME, isNotFound: neverNotFound });
  return { ...draft, status: 'failed', error };
}

async function lookupRequest(nativeId: string, call: UpstreamCall, baseUrl: string): Promise<TaskDraft> {
  const { modelId, app, requestId } = parseNativeId(nativeId);
  // The id form allows only safe characters in the app: it goes into the path as it is.
  const requestPath = `/${app}/requests/${encodeURIComponent(requestId)}`;
  // 202 while queued or running, 200 once completed: any 2xx is a status body.
  const statusResponse = await call.request({ path: `${requestPath}/status`, template: STATUS_TEMPLATE });
  const status = readTaskBody(statusResponse, { provider: FAL_NAME, isNotFound, schema: FalStatusSchema });
  const draft: TaskDraft = {
    provider_task_id: nativeId,
    provider_status: status.status,
    // fal has no progress figure: queue_position counts requests ahead, not work done.
    progress: null,
    outputs: [],
    error: null,
    model: modelId,
    created_at: null,
    completed_at: null,
  };
  const word = STATUSES.known(status.status);
  if (word === 'failed') return { ...draft, error: statusBodyError(status) };
  if (word !== 'succeeded') return draft;
  // COMPLETED is not success: the status body may carry the request's error itself.
  const ownError = statusBodyError(status);
  if (ownError !== null) return { ...draft, status: 'failed', error: ownError };
  const resultResponse = await call.request({ path: requestPath, template: RESULT_TEMPLATE });
  return completedDraft(draft, resultResponse, baseUrl);
}

export const fal: ProviderDefinition<typeof FAL_NAME> = {
  name: FAL_NAME,
  title: "fal.ai's queue API (any model it hosts)",
  credentials: [{ setting: 'apiKey', env: 'FAL_KEY', secret: true }],
  defaultBaseUrl: 'https://queue.fal.run',
  cadenceMs: 1000,
  // fal's request ids are UUIDs, as other providers' are: a fal id is always qualified (`fal:…`).
  idRules: [],
  nativeIds: FAL_NATIVE_IDS,
  statuses: FAL_STATUS_WORDS,
  connect({ settings }) {
    const headers = { authorization: `Key ${settings.credentials['apiKey'] ?? ''}` };
    return {
      authorize: () => headers,
      lookup: (nativeId, call) => lookupRequest(nativeId, call, settings.baseUrl),
    };
  },
};
