/**
 * pixverse: PixVerse's platform API, `GET {base}/openapi/v2/video/result/{id}` with the
 * key as `API-KEY` and a new `Ai-trace-id` (a UUID) on every call: PixVerse answers a
 * trace id it has seen with its earlier answer. Every answer is an `{ErrCode, ErrMsg,
 * Resp}` envelope, API errors included (docs/providers/pixverse.md).
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { apiKeyCredential } from '../define.js';
import { isSuccessStatus, readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { envelopeError, errCodeOf, httpError, PIXVERSE_NAME, PIXVERSE_STATUSES, statusWordOf, toTaskDraft, VIDEO_ID } from './map.js';
import { EnvelopeSchema } from './schema.js';

const RESULT_TEMPLATE = '/openapi/v2/video/result/{id}';

export const pixverse: ProviderDefinition<typeof PIXVERSE_NAME> = {
  name: PIXVERSE_NAME,
  title: 'PixVerse video generation (its platform API)',
  credentials: [apiKeyCredential(PIXVERSE_NAME)],
  // The global platform; PixVerse's China platform is https://app-api.pixverseai.cn.
  defaultBaseUrl: 'https://app-api.pixverse.ai',
  // PixVerse's guide polls every 3-5 s while a video is generating.
  cadenceMs: 4000,
  // Numeric ids: Kling's, MiniMax's, Vidu's and PixVerse's look alike, so all four are asked, PixVerse last.
  idRules: [{ pattern: '^\\d{10,19}$', order: 43 }],
  nativeIds: { pattern: VIDEO_ID, description: 'an integer video id of 10 to 19 digits', example: '315468294118400' },
  statuses: PIXVERSE_STATUSES,
  connect({ settings }) {
    const key = settings.credentials['apiKey'] ?? '';
    return {
      // A new trace id for every request: a repeated one gets the earlier request's answer.
      authorize: () => ({ 'api-key': key, 'ai-trace-id': randomUUID() }),
      async lookup(nativeId, call): Promise<TaskDraft> {
        const response = await call.request({ path: `/openapi/v2/video/result/${encodeURIComponent(nativeId)}`, template: RESULT_TEMPLATE });
        if (!isSuccessStatus(response.statusCode)) throw httpError(response);
        const envelope = readTaskBody(response, { provider: PIXVERSE_NAME, isNotFound: () => false, schema: EnvelopeSchema });
        if (errCodeOf(envelope) !== 0) throw envelopeError(envelope, response);
        const result = envelope.Resp;
        const statusWord = result === null || result === undefined ? null : statusWordOf(result);
        if (result === null || result === undefined || statusWord === null) {
          throw new GatewayError('upstream_invalid_response', { provider: PIXVERSE_NAME, detail: `${PIXVERSE_NAME} returned a video result without a status` });
        }
        return toTaskDraft(result, statusWord, { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
