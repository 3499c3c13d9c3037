/**
 * vidu: Vidu (Shengshu) video generation, `GET {base}/ent/v2/tasks/{id}/creations` with
 * `Authorization: Token <VIDU_API_KEY>`. Its result files (a video and its cover image per
 * creation) are signed links on Vidu's storage, handed out as they are
 * (docs/providers/vidu.md).
 */
import { GatewayError } from '../../errors.js';
import { apiKeyCredential } from '../define.js';
import { readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { isNotFound, TASK_ID, toTaskDraft, tokenHeader, VIDU_NAME, VIDU_STATUSES } from './map.js';
import { ViduTaskSchema } from './schema.js';

/** The id sits before `/creations`, so the short one-GET form (id last) does not fit. */
const TASK_TEMPLATE = '/ent/v2/tasks/{id}/creations';

function taskPath(nativeId: string): string {
  return `/ent/v2/tasks/${encodeURIComponent(nativeId)}/creations`;
}

export const vidu: ProviderDefinition<typeof VIDU_NAME> = {
  name: VIDU_NAME,
  title: 'Vidu (Shengshu) video generation',
  credentials: [apiKeyCredential(VIDU_NAME)],
  // International; mainland China is https://api.vidu.cn (VIDU_BASE_URL).
  defaultBaseUrl: 'https://api.vidu.com',
  cadenceMs: 5000,
  // Numeric ids: Kling's, MiniMax's, Vidu's and PixVerse's look alike, so all four are asked, in this order.
  idRules: [{ pattern: '^\\d{10,19}$', order: 42 }],
  nativeIds: {
    pattern: TASK_ID,
    description: "a task id of 10 to 19 digits (or, at a relay that copies Vidu's API, a UUID)",
    example: '812345678901234567',
  },
  statuses: VIDU_STATUSES,
  connect({ settings }) {
    const headers = tokenHeader(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        const response = await call.request({ path: taskPath(nativeId), template: TASK_TEMPLATE });
        const task = readTaskBody(response, { provider: VIDU_NAME, isNotFound, schema: ViduTaskSchema });
        if (task.state.trim() === '') {
          throw new GatewayError('upstream_invalid_response', { provider: VIDU_NAME, detail: `${VIDU_NAME} returned a task without a state` });
        }
        return toTaskDraft(task, { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
