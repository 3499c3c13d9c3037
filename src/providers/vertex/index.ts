/**
 * vertex: Google Veo on Vertex AI. A task is a long-running operation, asked with
 * `POST …/models/{model}:fetchPredictOperation` on the operation's regional host, with an
 * OAuth token the service account's key obtains; its videos are in Cloud Storage (served
 * through /content with the same token) or inline in the answer (docs/providers/vertex.md).
 */
import { GatewayError } from '../../errors.js';
import { readTaskBody } from '../http.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import type { ProviderConnection, ProviderDefinition, UpstreamCall } from '../types.js';
import { CREDENTIALS_VARIABLE, readServiceAccount, TokenSource } from './auth.js';
import {
  DEFAULT_STORAGE_BASE_URL,
  FETCH_OPERATION_TEMPLATE,
  fetchOperationPath,
  findInlineVideo,
  GLOBAL_HOST,
  isVertexHost,
  NATIVE_IDS,
  parseOperationName,
  regionalHost,
  toTaskDraft,
  VERTEX_NAME,
  type OperationName,
} from './map.js';
import { OperationSchema, type Operation } from './schema.js';

/** An operation answer may carry its videos inline, base64: several MB each. */
const OPERATION_MAX_BODY_BYTES = 64 * 1024 * 1024;

const isNotFound = (response: UpstreamResponse): boolean => response.statusCode === 404;

function notAnOperationName(): GatewayError {
  return new GatewayError('invalid_task_id', { provider: VERTEX_NAME, detail: `A ${VERTEX_NAME} task id is ${NATIVE_IDS.description}.` });
}

function connect({ settings, addSecret }: Parameters<ProviderDefinition['connect']>[0]): ProviderConnection {
  const account = readServiceAccount(settings.credentials['serviceAccountFile'] ?? '');
  addSecret(account.privateKeyPem);
  const tokens = new TokenSource(account, addSecret);
  const storageBaseUrl = settings.urls['storageBaseUrl'] ?? DEFAULT_STORAGE_BASE_URL;
  const storagePrefix = `${storageBaseUrl.replace(/\/+$/, '')}/`;
  // The default base names no region: each operation is asked at its own location's host.
  const regional = settings.baseUrl === GLOBAL_HOST;

  /** The token, and the billed project on Vertex's own calls (not on storage downloads: see the docs). */
  async function credentialHeaders(call: UpstreamCall, storage: boolean): Promise<Record<string, string>> {
    const authorization = `Bearer ${await tokens.token(call)}`;
    return storage ? { authorization } : { authorization, 'x-goog-user-project': account.quotaProject };
  }

  async function fetchOperation(nativeId: string, call: UpstreamCall): Promise<{ name: OperationName; operation: Operation }> {
    const name = parseOperationName(nativeId);
    if (name === undefined) throw notAnOperationName();
    const path = fetchOperationPath(name);
    const request = { method: 'POST', template: FETCH_OPERATION_TEMPLATE, json: { operationName: nativeId }, maxBodyBytes: OPERATION_MAX_BODY_BYTES } as const;
    let response: UpstreamResponse;
    if (regional) {
      // Not the base URL's origin, so the gateway would not authorize it: the token is added
      // here, and only ever for one of Vertex's own hosts.
      const url = new URL(path, regionalHost(name.location));
      if (!isVertexHost(url)) throw notAnOperationName();
      response = await call.request({ ...request, path: url.href, auth: false, headers: await credentialHeaders(call, false) });
    } else {
      response = await call.request({ ...request, path });
    }
    // A refused token is not kept: the next lookup gets a new one.
    if (response.statusCode === 401) tokens.forget();
    return { name, operation: readTaskBody(response, { provider: VERTEX_NAME, isNotFound, schema: OperationSchema }) };
  }

  return {
    authorize: (url, call) => credentialHeaders(call, url.href.startsWith(storagePrefix)),
    async lookup(nativeId, call) {
      const { name, operation } = await fetchOperation(nativeId, call);
      return toTaskDraft(operation, { nativeId, name, storageBaseUrl });
    },
    async openInline(nativeId, output, call) {
      const { operation } = await fetchOperation(nativeId, call);
      const inline = findInlineVideo(operation, output.url);
      if (inline === undefined) {
        throw new GatewayError('content_expired', { provider: VERTEX_NAME, detail: `${VERTEX_NAME}'s operation no longer holds this video.` });
      }
      const bytes = Buffer.from(inline.base64, 'base64');
      if (bytes.length === 0) {
        throw new GatewayError('upstream_invalid_response', { provider: VERTEX_NAME, detail: `${VERTEX_NAME} sent an inline video that is not base64.` });
      }
      return { contentType: inline.contentType, bytes };
    },
  };
}

export const vertex: ProviderDefinition<typeof VERTEX_NAME> = {
  name: VERTEX_NAME,
  title: 'Google Veo on Vertex AI',
  // A path, not a key: the key it names is read at connect and redacted from then on.
  credentials: [{ setting: 'serviceAccountFile', env: CREDENTIALS_VARIABLE, secret: false }],
  defaultBaseUrl: GLOBAL_HOST,
  urls: [{ setting: 'storageBaseUrl', env: 'VERTEX_STORAGE_BASE_URL', default: DEFAULT_STORAGE_BASE_URL }],
  cadenceMs: 10_000,
  idRules: [{ pattern: '^projects/[^/]+/locations/[^/]+/publishers/google/models/[^/]+/operations/[^/]+$', order: 51 }],
  nativeIds: NATIVE_IDS,
  // No status words: the draft decides from `done` (running / done).
  statuses: { in_progress: ['running'], succeeded: ['done'] },
  connect,
};
