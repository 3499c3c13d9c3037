/**
 * luma: Luma's Dream Machine API. A generation is `GET {base}/dream-machine/v1/generations/{id}`
 * with a Bearer key; its files are public links on Luma's CDN, handed out as they are. The
 * newer Agents API's generation shape (`processing`, `output[]`, `failure_code`) is read
 * too (docs/providers/luma.md).
 */
import { GatewayError } from '../../errors.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import { bearer } from '../define.js';
import { readTaskBody } from '../http.js';
import type { ProviderDefinition, TaskDraft } from '../types.js';
import { apiErrorInBody, GENERATION_ID, generationRequest, isNotFound, LUMA_NAME, LUMA_STATUS_WORDS, toTaskDraft, UUID_RULE } from './map.js';
import { GenerationSchema, type Generation } from './schema.js';

/** The generation in a 2xx answer; an error body there is no generation, and neither is a body without a state. */
function readGeneration(response: UpstreamResponse): Generation & { state: string } {
  const generation = readTaskBody(response, { provider: LUMA_NAME, isNotFound, schema: GenerationSchema });
  const { state } = generation;
  if (typeof state === 'string' && state.trim() !== '') return { ...generation, state };
  if (generation.detail !== undefined && generation.detail !== null) throw apiErrorInBody(generation.detail, response);
  throw new GatewayError('upstream_invalid_response', { provider: LUMA_NAME, detail: `${LUMA_NAME} returned a generation without a state` });
}

export const luma: ProviderDefinition<typeof LUMA_NAME> = {
  name: LUMA_NAME,
  title: 'Luma Dream Machine (Ray video, Photon images)',
  credentials: [{ setting: 'apiKey', env: 'LUMAAI_API_KEY', secret: true }],
  defaultBaseUrl: 'https://api.lumalabs.ai',
  // Luma's own SDK examples poll every 3 s.
  cadenceMs: 3000,
  // Runway (60) and DashScope (62) share the UUID rule: a bare UUID is asked of each configured one.
  idRules: [{ pattern: UUID_RULE, order: 61 }],
  nativeIds: {
    pattern: GENERATION_ID,
    description: 'a generation id: a UUID (8-4-4-4-12 hexadecimal digits)',
    example: '32ec5549-7b7a-4111-a43b-445b3a89c8ef',
  },
  statuses: LUMA_STATUS_WORDS,
  connect({ settings }) {
    const headers = bearer(settings.credentials['apiKey'] ?? '');
    return {
      authorize: () => headers,
      async lookup(nativeId, call): Promise<TaskDraft> {
        // The gateway checks the form before any lookup; this keeps a direct caller from walking the path.
        if (!GENERATION_ID.test(nativeId)) throw new GatewayError('invalid_task_id', { provider: LUMA_NAME, detail: `A ${LUMA_NAME} generation id is a UUID.` });
        const response = await call.request(generationRequest(settings.baseUrl, nativeId));
        return toTaskDraft(readGeneration(response), { nativeId, baseUrl: settings.baseUrl });
      },
    };
  },
};
