/**
 * gravitex: `GET {base}/v1/video/generations/{task_id}` with a Bearer key (docs/providers/gravitex.md, "gravitex").
 */
import { errorTexts, tryParseJson } from '../http.js';
import { defineHttpProvider } from '../define.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { GRAVITEX_NAME, saysTaskNotExist, toTaskDraft } from './map.js';
import { GravitexBodySchema } from './schema.js';

/**
 * docs/providers/gravitex.md gravitex "unknown task": the server answers HTTP 400 `{"code": "task_not_exist"}`,
 * the docs claim 404 `{"error": {...}}`; both mean the task does not exist.
 */
function isGravitexTaskNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  return response.statusCode === 400 && saysTaskNotExist(errorTexts(tryParseJson(response.body)));
}

export const gravitex = defineHttpProvider({
  name: GRAVITEX_NAME,
  title: 'gravitex video generations',
  defaultBaseUrl: 'https://api.gravitex.ai',
  // Docs say 3-5 s, and the server refreshes most tasks only every ~15 s: never faster than 5 s.
  cadenceMs: 5000,
  // `video_…` are the documented (older) ids; current `task_` + 32 ids look like vtrix's docs' ids.
  idRules: [
    { prefix: 'video_', order: 10 },
    { prefix: 'task_', order: 31 },
  ],
  taskPath: (id) => `/v1/video/generations/${id}`,
  schema: GravitexBodySchema,
  toDraft: toTaskDraft,
  isNotFound: isGravitexTaskNotFound,
});
