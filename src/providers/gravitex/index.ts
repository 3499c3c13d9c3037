/**
 * gravitex: `GET {base}/v1/video/generations/{task_id}` with a Bearer key (providers.md, "gravitex").
 */
import { errorTexts, readTaskBody, tryParseJson } from '../http.js';
import { finalizeTask } from '../normalize.js';
import type { ProviderDefinition, UpstreamResponse } from '../types.js';
import { GRAVITEX_NAME, saysTaskNotExist, toTaskDraft } from './map.js';
import { GravitexBodySchema } from './schema.js';

/**
 * providers.md gravitex "unknown task": the server answers HTTP 400 `{"code": "task_not_exist"}`,
 * the docs claim 404 `{"error": {...}}`; both mean the task does not exist.
 */
function isGravitexTaskNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  return response.statusCode === 400 && saysTaskNotExist(errorTexts(tryParseJson(response.body)));
}

export const gravitex: ProviderDefinition = {
  name: GRAVITEX_NAME,
  envPrefix: 'GRAVITEX',
  defaultBaseUrl: 'https://api.gravitex.ai',
  // Docs say 3-5 s, and the server refreshes most tasks only every ~15 s: never faster than 5 s.
  defaultPollIntervalMs: 5000,

  taskPath(nativeId) {
    return `/v1/video/generations/${encodeURIComponent(nativeId)}`;
  },

  authHeaders(apiKey) {
    return { Authorization: `Bearer ${apiKey}` };
  },

  interpret(response, context) {
    const body = readTaskBody(response, {
      provider: GRAVITEX_NAME,
      isNotFound: isGravitexTaskNotFound,
      schema: GravitexBodySchema,
    });
    return finalizeTask(GRAVITEX_NAME, toTaskDraft(body, context));
  },
};
