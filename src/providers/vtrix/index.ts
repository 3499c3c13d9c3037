/**
 * vtrix: `GET {base}/model/v1/generation/task/{id}` with a Bearer key (providers.md, "vtrix").
 */
import { errorTexts, readTaskBody, tryParseJson } from '../http.js';
import { finalizeTask } from '../normalize.js';
import type { ProviderDefinition, UpstreamResponse } from '../types.js';
import { saysTaskIsMissing, toTaskDraft, VTRIX_NAME } from './map.js';
import { VtrixBodySchema } from './schema.js';

/** 404, or a 400/422 whose error text says the task does not exist (undocumented upstream). */
function isVtrixTaskNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  if (response.statusCode !== 400 && response.statusCode !== 422) return false;
  return saysTaskIsMissing(errorTexts(tryParseJson(response.body)));
}

export const vtrix: ProviderDefinition = {
  name: VTRIX_NAME,
  envPrefix: 'VTRIX',
  defaultBaseUrl: 'https://cloud.vtrix.ai',
  // Its CLI polls every 5 s; the docs advise 3-5 s.
  defaultPollIntervalMs: 5000,

  taskPath(nativeId) {
    return `/model/v1/generation/task/${encodeURIComponent(nativeId)}`;
  },

  authHeaders(apiKey) {
    return { Authorization: `Bearer ${apiKey}` };
  },

  interpret(response, context) {
    const body = readTaskBody(response, {
      provider: VTRIX_NAME,
      isNotFound: isVtrixTaskNotFound,
      schema: VtrixBodySchema,
    });
    return finalizeTask(VTRIX_NAME, toTaskDraft(body, context));
  },
};
