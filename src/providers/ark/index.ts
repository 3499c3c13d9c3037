/**
 * ark: ByteDance Seedance video generation on Volcengine Ark and BytePlus ModelArk (one
 * API, two hosts). A task is `GET {base}/api/v3/contents/generations/tasks/{id}` with a
 * Bearer key; its files are signed links on Ark's object storage, handed out exactly as
 * Ark wrote them (docs/providers/ark.md).
 */
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { apiKeyCredential, bearer } from '../define.js';
import { readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { apiErrorInBody, ARK_ID_RULE, ARK_NAME, ARK_NATIVE_ID, ARK_STATUS_WORDS, isNotFound, taskRequest, toTaskDraft } from './map.js';
import { ArkTaskSchema, type ArkTask } from './schema.js';

/** The task in a 2xx answer; an error envelope there is no task, and neither is a body without a status. */
function readTask(response: UpstreamResponse): ArkTask & { status: string } {
  const task = readTaskBody(response, { provider: ARK_NAME, isNotFound, schema: ArkTaskSchema });
  const { status } = task;
  if (typeof status === 'string' && status.trim() !== '') return { ...task, status };
  if (task.error !== null && task.error !== undefined) throw apiErrorInBody(task.error, response);
  throw new GatewayError('upstream_invalid_response', { provider: ARK_NAME, detail: `${ARK_NAME} returned a task without a status` });
}

export const ark: ProviderDefinition<typeof ARK_NAME> = {
  name: ARK_NAME,
  title: 'ByteDance Seedance on Volcengine Ark / BytePlus ModelArk',
  credentials: [apiKeyCredential(ARK_NAME)],
  // BytePlus ModelArk; Volcengine Ark (mainland China) is https://ark.cn-beijing.volces.com.
  defaultBaseUrl: 'https://ark.ap-southeast.bytepluses.com',
  cadenceMs: 5000,
  idRules: [{ pattern: ARK_ID_RULE, order: 52 }],
  nativeIds: {
    pattern: ARK_NATIVE_ID,
    description: '"cgt-" and then letters, digits, "_" or "-" (Ark\'s own ids are cgt-<14 digits>-<5 of a-z and 0-9>)',
    example: 'cgt-20250331175019-68d9t',
  },
  statuses: ARK_STATUS_WORDS,
  connect({ settings }) {
    const headers = bearer(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        // The gateway checks the form before any lookup; this keeps a direct caller from walking the path.
        if (!ARK_NATIVE_ID.test(nativeId)) throw new GatewayError('invalid_task_id', { provider: ARK_NAME, detail: `An ${ARK_NAME} task id starts with "cgt-".` });
        const response = await call.request(taskRequest(settings.baseUrl, nativeId));
        return toTaskDraft(readTask(response), { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
