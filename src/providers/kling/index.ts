/**
 * kling: Kling AI's official API, `GET {base}/v1/videos/{action}/{task_id}` with a JWT the
 * gateway signs itself from the access and secret keys (docs/providers/kling.md).
 */
import { GatewayError } from '../../errors.js';
import type { ProviderDefinition, TaskDraft, UpstreamCall } from '../types.js';
import {
  expandNativeId,
  KLING_NAME,
  KLING_NATIVE_ID,
  KLING_STATUS_WORDS,
  parseNativeId,
  PROBED_ACTIONS,
  readAnswer,
  STATUS_TEMPLATE,
  statusPath,
  toTaskDraft,
} from './map.js';
import { TokenCache } from './token.js';

export interface KlingOptions {
  /** The clock tokens are minted by, in epoch milliseconds (tests move it). Default Date.now. */
  now?: () => number;
}

/** The definition with its own clock; `kling` below is the one the registry uses. */
export function defineKling(options: KlingOptions = {}): ProviderDefinition<typeof KLING_NAME> {
  const now = options.now ?? Date.now;
  return {
    name: KLING_NAME,
    title: "Kling AI's official API (text and image to video)",
    credentials: [
      { setting: 'accessKey', env: 'KLING_ACCESS_KEY', secret: true },
      { setting: 'secretKey', env: 'KLING_SECRET_KEY', secret: true },
    ],
    defaultBaseUrl: 'https://api-singapore.klingai.com',
    // Kling documents no cadence; its tasks take minutes and other clients poll every 5 s.
    cadenceMs: 5000,
    // Long numeric ids are also MiniMax's, Vidu's and PixVerse's: Kling is asked first.
    idRules: [{ pattern: '^\\d{10,19}$', order: 40 }],
    nativeIds: {
      pattern: KLING_NATIVE_ID,
      description: 'a task id (18 digits, or 22 characters of [A-Za-z0-9_-] for older tasks), optionally after its action and a "/" (text2video/…, image2video/…)',
      example: 'image2video/867283741759111202',
    },
    statuses: KLING_STATUS_WORDS,
    expand: expandNativeId,
    connect({ settings, addSecret }) {
      const { credentials, baseUrl } = settings;
      const keys = { accessKey: credentials['accessKey'] ?? '', secretKey: credentials['secretKey'] ?? '' };
      const tokens = new TokenCache(keys, now, addSecret);

      /** One action's answer; a stale token (1004) is replaced and the question asked once more. */
      async function lookupAt(action: string, taskId: string, call: UpstreamCall): Promise<TaskDraft> {
        const request = { path: statusPath(action, taskId), template: STATUS_TEMPLATE };
        let answer = readAnswer(await call.request(request));
        if (answer.kind === 'token_expired') {
          tokens.forget();
          answer = readAnswer(await call.request(request));
        }
        if (answer.kind === 'token_expired') throw answer.error;
        return toTaskDraft(answer.task, `${action}/${taskId}`, baseUrl);
      }

      return {
        authorize: () => ({ authorization: `Bearer ${tokens.current()}` }),
        async lookup(nativeId, call) {
          const ref = parseNativeId(nativeId);
          if (ref === undefined) {
            throw new GatewayError('invalid_task_id', { provider: KLING_NAME, detail: 'The id does not have the form of a kling task id.' });
          }
          if (ref.action !== undefined) return lookupAt(ref.action, ref.taskId, call);
          // The gateway expands a bare id itself (`expand`) and asks the actions at once;
          // asked directly, the actions are tried in turn.
          for (const action of PROBED_ACTIONS.slice(0, -1)) {
            try {
              return await lookupAt(action, ref.taskId, call);
            } catch (error) {
              if (!(error instanceof GatewayError && error.code === 'task_not_found')) throw error;
            }
          }
          return lookupAt(PROBED_ACTIONS[PROBED_ACTIONS.length - 1]!, ref.taskId, call);
        },
      };
    },
  };
}

export const kling = defineKling();
