/**
 * openrouter: OpenRouter's video generation API. A job is `GET {base}/api/v1/videos/{id}`
 * with `Authorization: Bearer <OPENROUTER_API_KEY>`; its files (`unsigned_urls`) are on
 * OpenRouter's own origin and need the key, so the gateway serves them through `/content`
 * (docs/providers/openrouter.md).
 */
import { defineHttpProvider, ONE_SEGMENT_ID } from '../define.js';
import { jobPath, OPENROUTER_NAME, OPENROUTER_STATUS_WORDS, toTaskDraft } from './map.js';
import { VideoJobSchema } from './schema.js';

export const openrouter = defineHttpProvider({
  name: OPENROUTER_NAME,
  title: "OpenRouter's video generation API (the video models it routes to)",
  defaultBaseUrl: 'https://openrouter.ai',
  // OpenRouter recommends polling a job every 10 to 30 seconds.
  cadenceMs: 10_000,
  // Job ids have no documented form that sets them apart: `openrouter:<job id>` only.
  idRules: [],
  // OpenRouter documents no form for its job ids: any one path segment is taken.
  nativeIds: { ...ONE_SEGMENT_ID, example: 'job-abc123' },
  statuses: OPENROUTER_STATUS_WORDS,
  taskPath: jobPath,
  schema: VideoJobSchema,
  toDraft: toTaskDraft,
  isNotFound: (response) => response.statusCode === 404,
});
