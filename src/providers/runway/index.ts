/**
 * runway: the Runway API, `GET {base}/v1/tasks/{id}` with `Authorization: Bearer
 * <RUNWAYML_API_SECRET>` and `X-Runway-Version` on every call. Its result files are on
 * Runway's CDN behind signed links, handed out as they are (docs/providers/runway.md).
 */
import { bearer, defineHttpProvider } from '../define.js';
import { isNotFound, RUNWAY_API_VERSION, RUNWAY_NAME, RUNWAY_STATUS_WORDS, TASK_ID, toTaskDraft } from './map.js';
import { RunwayTaskSchema } from './schema.js';

export const runway = defineHttpProvider({
  name: RUNWAY_NAME,
  title: 'Runway API tasks (its video, image and audio models)',
  credentials: [{ setting: 'apiKey', env: 'RUNWAYML_API_SECRET', secret: true }],
  // The API lives on api.dev.runwayml.com, not api.runwayml.com.
  defaultBaseUrl: 'https://api.dev.runwayml.com',
  // Runway: "should not expect updates more frequent than once every five seconds".
  cadenceMs: 5000,
  // A UUID is also a Luma and a DashScope id: all three are asked, Runway's answer first.
  idRules: [{ pattern: '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$', order: 60 }],
  nativeIds: {
    pattern: TASK_ID,
    description: 'a task id: a UUID (8-4-4-4-12 hexadecimal digits)',
    example: '63fd0f13-f29d-4e58-99d3-1cb9efa14a5b',
  },
  statuses: RUNWAY_STATUS_WORDS,
  taskPath: (id) => `/v1/tasks/${id}`,
  auth: (credentials) => ({ ...bearer(credentials['apiKey'] ?? ''), 'x-runway-version': RUNWAY_API_VERSION }),
  schema: RunwayTaskSchema,
  toDraft: toTaskDraft,
  isNotFound,
});
