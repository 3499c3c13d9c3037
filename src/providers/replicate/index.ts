/**
 * replicate: Replicate predictions, `GET {base}/v1/predictions/{id}` with
 * `Authorization: Bearer <REPLICATE_API_TOKEN>`. Its result files are on Replicate's public
 * delivery host and handed out as they are; an hour after an API prediction ends they are
 * deleted, which the prediction says with `data_removed` (docs/providers/replicate.md).
 */
import { GatewayError } from '../../errors.js';
import { parseRetryAfter } from '../../upstream/retry-after.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { bearer } from '../define.js';
import { classifyHttpError, getHeader, isSuccessStatus, readTaskBody, tryParseJson } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { PREDICTION_ID, REPLICATE_NAME, REPLICATE_STATUS_WORDS, throttledSeconds, toTaskDraft } from './map.js';
import { ErrorBodySchema, PredictionSchema } from './schema.js';

const TEMPLATE = '/v1/predictions/{id}';
const isNotFound = (response: UpstreamResponse): boolean => response.statusCode === 404;

/**
 * A non-2xx answer. A 429 that sends no usable `Retry-After` still names its delay in its
 * `detail` ("Expected available in 1 second."): that delay is passed on.
 */
function httpError(response: UpstreamResponse): GatewayError {
  const error = classifyHttpError(response, { provider: REPLICATE_NAME, isNotFound });
  if (error.code !== 'upstream_rate_limited' || parseRetryAfter(getHeader(response.headers, 'retry-after')) !== undefined) return error;
  const seconds = throttledSeconds(ErrorBodySchema.safeParse(tryParseJson(response.body)).data?.detail);
  if (seconds === undefined) return error;
  return new GatewayError('upstream_rate_limited', { provider: REPLICATE_NAME, cause: error.cause, retryAfter: seconds, detail: error.detail });
}

export const replicate: ProviderDefinition<typeof REPLICATE_NAME> = {
  name: REPLICATE_NAME,
  title: 'Replicate predictions (any model it hosts)',
  credentials: [{ setting: 'apiKey', env: 'REPLICATE_API_TOKEN', secret: true }],
  defaultBaseUrl: 'https://api.replicate.com',
  // Replicate's rate limit for reads is 3000 a minute; 2 s per task keeps far inside it.
  cadenceMs: 2000,
  idRules: [{ pattern: '^[a-z0-9]{26}$', order: 53 }],
  nativeIds: {
    pattern: PREDICTION_ID,
    description: 'a prediction id: 26 lowercase letters and digits',
    example: 'qz7mfxlkw3vdpygt1o8hbnsuae',
  },
  statuses: REPLICATE_STATUS_WORDS,
  connect({ settings }) {
    // Older clients send `Token <token>`; Replicate takes both, and documents Bearer.
    const headers = bearer(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        const response = await call.request({ path: `/v1/predictions/${encodeURIComponent(nativeId)}`, template: TEMPLATE });
        if (!isSuccessStatus(response.statusCode)) throw httpError(response);
        const prediction = readTaskBody(response, { provider: REPLICATE_NAME, isNotFound, schema: PredictionSchema });
        return toTaskDraft(prediction, { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
