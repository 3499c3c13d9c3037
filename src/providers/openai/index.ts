/**
 * openai: OpenAI Videos, `GET {base}/v1/videos/{video_id}` with a Bearer key, and the APIs
 * that copy it (docs/providers/openai.md, "openai").
 */
import { defineHttpProvider } from '../define.js';
import { getHeader } from '../http.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { OPENAI_NAME, toTaskDraft } from './map.js';
import { OpenAiVideoSchema } from './schema.js';

/** The longest delay a Node timer holds; a longer hint would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const WHOLE_MILLISECONDS = /^\d+$/;

/**
 * The official SDKs wait as long as the `openai-poll-after-ms` header says before polling
 * again; a value that is not a whole number of milliseconds above 0 is ignored.
 */
function pollAfterMs(response: UpstreamResponse): number | undefined {
  const text = getHeader(response.headers, 'openai-poll-after-ms')?.trim();
  if (text === undefined || !WHOLE_MILLISECONDS.test(text)) return undefined;
  const milliseconds = Number(text);
  return milliseconds >= 1 && milliseconds <= MAX_TIMER_MS ? milliseconds : undefined;
}

export const openai = defineHttpProvider({
  name: OPENAI_NAME,
  title: 'OpenAI-Videos-compatible APIs (relays and hosts)',
  // OpenAI retired its own Videos API: the base is the relay or host that kept the shape
  // (Azure's copy lives under `https://<resource>/openai`: a base URL's path is kept).
  defaultBaseUrl: undefined,
  baseUrlRequired:
    "OpenAI retired its Videos API on 2026-09-24; set it to the relay or host that serves the OpenAI Videos shape (e.g. https://<resource>/openai for Azure)",
  // The official SDKs poll every 1 s unless an answer's `openai-poll-after-ms` says otherwise.
  cadenceMs: 1000,
  // `video_` + hex is also the form of gravitex's documented ids (it relays this API): asked second.
  idRules: [{ prefix: 'video_', order: 11 }],
  taskPath: (id) => `/v1/videos/${id}`,
  schema: OpenAiVideoSchema,
  toDraft: toTaskDraft,
  isNotFound: (response) => response.statusCode === 404,
  cadenceOf: pollAfterMs,
});
