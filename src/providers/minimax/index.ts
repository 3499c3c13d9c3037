/**
 * minimax: MiniMax Hailuo video generation. A lookup is the task query, and once the task
 * succeeded, the retrieval of its file for the download URL: two calls under the lookup's
 * one deadline (docs/providers/minimax.md).
 */
import { GatewayError } from '../../errors.js';
import { apiKeyCredential, bearer } from '../define.js';
import { readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft, UpstreamCall } from '../types.js';
import {
  envelopeError,
  fileIdOf,
  isQueryNotFound,
  isSucceeded,
  isTaskFailure,
  MINIMAX_NAME,
  MINIMAX_STATUSES,
  toTaskDraft,
} from './map.js';
import { FileBodySchema, QueryBodySchema, type FileBody } from './schema.js';

const QUERY_PATH = '/v1/query/video_generation';
const FILE_PATH = '/v1/files/retrieve';

/** The retrieval of a succeeded task's file: only its envelope and `download_url` matter. */
async function retrieveFile(fileId: string, call: UpstreamCall): Promise<FileBody> {
  const response = await call.request({ path: FILE_PATH, template: FILE_PATH, query: { file_id: fileId } });
  // The task exists (the query said Success): a file the provider cannot find is its error, not a 404 of ours.
  const body = readTaskBody(response, { provider: MINIMAX_NAME, isNotFound: () => false, schema: FileBodySchema });
  const error = envelopeError(body.base_resp, 'file', response);
  if (error !== undefined) throw error;
  return body;
}

export const minimax: ProviderDefinition<typeof MINIMAX_NAME> = {
  name: MINIMAX_NAME,
  title: 'MiniMax Hailuo video generation',
  credentials: [apiKeyCredential(MINIMAX_NAME)],
  defaultBaseUrl: 'https://api.minimax.io',
  // MiniMax's own samples poll every 10 s.
  cadenceMs: 10_000,
  // Numeric ids: Kling's, MiniMax's, Vidu's and PixVerse's look alike, so all four are asked, in this order.
  idRules: [{ pattern: '^\\d{10,19}$', order: 41 }],
  nativeIds: { pattern: /^\d{10,19}$/, description: 'a numeric task id of 10 to 19 digits', example: '361720188367060' },
  statuses: MINIMAX_STATUSES,
  connect({ settings }) {
    const headers = bearer(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        const response = await call.request({ path: QUERY_PATH, template: QUERY_PATH, query: { task_id: nativeId } });
        const query = readTaskBody(response, { provider: MINIMAX_NAME, isNotFound: isQueryNotFound, schema: QueryBodySchema });
        const context = { nativeId, baseUrl: settings.baseUrl };
        if (isTaskFailure(query)) return toTaskDraft(query, undefined, context);
        const error = envelopeError(query.base_resp, 'query', response);
        if (error !== undefined) throw error;
        if ((query.status ?? '').trim() === '') {
          throw new GatewayError('upstream_invalid_response', { provider: MINIMAX_NAME, detail: `${MINIMAX_NAME} returned a task without a status` });
        }
        if (!isSucceeded(query)) return toTaskDraft(query, undefined, context);
        const fileId = fileIdOf(query, response.body);
        if (fileId === null) {
          throw new GatewayError('upstream_invalid_response', { provider: MINIMAX_NAME, detail: `${MINIMAX_NAME} reported a succeeded task without a file_id` });
        }
        return toTaskDraft(query, await retrieveFile(fileId, call), context);
      },
    };
  },
};
