/**
 * dashscope: Alibaba's Wan models on Model Studio (DashScope). A task is a UUID, asked with
 * `GET {base}/api/v1/tasks/{task_id}` and a Bearer key; an id it does not know is an HTTP
 * 200 saying `UNKNOWN`, and its result files are public signed links that expire
 * (docs/providers/dashscope.md).
 */
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { apiKeyCredential, bearer } from '../define.js';
import { readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { DASHSCOPE_NAME, DASHSCOPE_STATUSES, TASK_ID, TASK_TEMPLATE, taskOutput, taskPath, toTaskDraft, UUID_PATTERN } from './map.js';
import { TaskBodySchema } from './schema.js';

const isNotFound = (response: UpstreamResponse): boolean => response.statusCode === 404;

export const dashscope: ProviderDefinition<typeof DASHSCOPE_NAME> = {
  name: DASHSCOPE_NAME,
  title: 'Alibaba Wan on Model Studio (DashScope)',
  credentials: [apiKeyCredential(DASHSCOPE_NAME)],
  // The international endpoint; mainland China accounts set DASHSCOPE_BASE_URL.
  defaultBaseUrl: 'https://dashscope-intl.aliyuncs.com',
  // Alibaba's samples poll a task every 15 s.
  cadenceMs: 15_000,
  // Runway's, Luma's and DashScope's ids are all UUIDs: a bare one is asked of each configured one, DashScope last.
  idRules: [{ pattern: UUID_PATTERN, order: 62 }],
  nativeIds: { pattern: TASK_ID, description: 'a UUID (8-4-4-4-12 hexadecimal digits)', example: '966cebcd-dedc-4962-af88-0e2b1a7c3f11' },
  statuses: DASHSCOPE_STATUSES,
  connect({ settings }) {
    const headers = bearer(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        // The gateway checks the form before any lookup; this keeps a direct caller from walking the path.
        if (!TASK_ID.test(nativeId)) throw new GatewayError('invalid_task_id', { provider: DASHSCOPE_NAME, detail: `A ${DASHSCOPE_NAME} task id is a UUID.` });
        const response = await call.request({ path: taskPath(nativeId), template: TASK_TEMPLATE });
        const body = readTaskBody(response, { provider: DASHSCOPE_NAME, isNotFound, schema: TaskBodySchema });
        return toTaskDraft(body, taskOutput(body, response), { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
