/**
 * vtrix: `GET {base}/model/v1/generation/task/{id}` with a Bearer key (docs/providers/vtrix.md, "vtrix").
 */
import { errorTexts, tryParseJson } from '../http.js';
import { defineHttpProvider } from '../define.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { saysTaskIsMissing, toTaskDraft, VTRIX_NAME } from './map.js';
import { VtrixBodySchema } from './schema.js';

/** 404, or a 400/422 whose error text says the task does not exist (undocumented upstream). */
function isVtrixTaskNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  if (response.statusCode !== 400 && response.statusCode !== 422) return false;
  return saysTaskIsMissing(errorTexts(tryParseJson(response.body)));
}

export const vtrix = defineHttpProvider({
  name: VTRIX_NAME,
  title: 'vtrix generation tasks',
  defaultBaseUrl: 'https://cloud.vtrix.ai',
  // Its CLI polls every 5 s; the docs advise 3-5 s.
  cadenceMs: 5000,
  // Real ids are xid-like (20 of [0-9a-v]); the docs' `task_abc001` form is shared with gravitex.
  idRules: [
    { pattern: '^[0-9a-v]{20}$', order: 20 },
    { prefix: 'task_', order: 30 },
  ],
  taskPath: (id) => `/model/v1/generation/task/${id}`,
  schema: VtrixBodySchema,
  toDraft: toTaskDraft,
  isNotFound: isVtrixTaskNotFound,
});
