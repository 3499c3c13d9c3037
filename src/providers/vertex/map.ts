/**
 * Pure parts of the vertex adapter: the operation name and the URLs made from it, and the
 * mapping of a parsed operation onto a TaskDraft (finalizeTask does the rest). Facts in
 * docs/providers/vertex.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import type { NativeIdForm, StateOutput, TaskDraft } from '../types.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString } from '../normalize.js';
import type { Operation, OperationResponse, OperationVideo } from './schema.js';

export const VERTEX_NAME = 'vertex';

/** Vertex's global host; also the default base URL, which means "the operation's own regional host". */
export const GLOBAL_HOST = 'https://aiplatform.googleapis.com';
export const DEFAULT_STORAGE_BASE_URL = 'https://storage.googleapis.com';

/** The parts of `projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{op}`. */
export interface OperationName {
  project: string;
  location: string;
  model: string;
  operation: string;
}

/*
 * Each segment starts with a letter or digit, so none is a dot-segment a URL would resolve.
 * Project ids may be domain-scoped (`example.com:proj`); model ids may carry a version (`@001`).
 * The location becomes part of a host name: lower-case words joined by single hyphens.
 */
const PROJECT = '[A-Za-z0-9][A-Za-z0-9.:_-]*';
const LOCATION = '[a-z0-9]+(?:-[a-z0-9]+)*';
const MODEL = '[A-Za-z0-9][A-Za-z0-9._@-]*';
const OPERATION = '[A-Za-z0-9][A-Za-z0-9._-]*';
const OPERATION_NAME = new RegExp(
  `^projects/(${PROJECT})/locations/(${LOCATION})/publishers/google/models/(${MODEL})/operations/(${OPERATION})$`,
);

export const EXAMPLE_OPERATION = 'projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/0c33f4b2-8a1d-4c6e-9f02-5b7d3e1a9c40';

export const NATIVE_IDS: NativeIdForm = {
  pattern: OPERATION_NAME,
  description: 'a Vertex AI operation name, projects/{project}/locations/{location}/publishers/google/models/{model}/operations/{operation}',
  example: EXAMPLE_OPERATION,
};

export function parseOperationName(name: string): OperationName | undefined {
  const match = OPERATION_NAME.exec(name);
  if (match === null) return undefined;
  const [, project, location, model, operation] = match as unknown as [string, string, string, string, string];
  return { project, location, model, operation };
}

/** The status call's path, each segment URL-encoded. */
export function fetchOperationPath(name: OperationName): string {
  const encode = encodeURIComponent;
  return `/v1/projects/${encode(name.project)}/locations/${encode(name.location)}/publishers/google/models/${encode(name.model)}:fetchPredictOperation`;
}

export const FETCH_OPERATION_TEMPLATE = '/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:fetchPredictOperation';

/** `https://{location}-aiplatform.googleapis.com`, or the global host for `global`. */
export function regionalHost(location: string): string {
  return location === 'global' ? GLOBAL_HOST : `https://${location}-aiplatform.googleapis.com`;
}

/** Vertex's own hosts: the only ones an access token is sent to when the host is derived per operation. */
export function isVertexHost(url: URL): boolean {
  return url.protocol === 'https:' && url.port === '' && /^(?:[a-z0-9]+(?:-[a-z0-9]+)*-)?aiplatform\.googleapis\.com$/.test(url.hostname);
}

/**
 * `gs://bucket/object` as the storage origin's URL of that object (`{storage}/{bucket}/{object}`,
 * each segment URL-encoded); null for anything else, or an object name with a dot-segment,
 * which a URL would resolve out of its bucket.
 */
export function storageUrl(gcsUri: string, storageBaseUrl: string): string | null {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(gcsUri.trim());
  if (match === null) return null;
  const [, bucket, object] = match as unknown as [string, string, string];
  const segments = object.split('/');
  if (bucket === '.' || bucket === '..' || segments.some((segment) => segment === '.' || segment === '..')) return null;
  return `${storageBaseUrl.replace(/\/+$/, '')}/${encodeURIComponent(bucket)}/${segments.map(encodeURIComponent).join('/')}`;
}

/** Where an inline video sits in the operation: `inline:videos/{index}`, or `inline:response` for the top-level one. */
const INLINE_VIDEO = /^inline:videos\/(\d{1,4})$/;
export const INLINE_TOP_LEVEL = 'inline:response';

export function inlineLocator(index: number | undefined): string {
  return index === undefined ? INLINE_TOP_LEVEL : `inline:videos/${index}`;
}

export interface InlineVideo {
  base64: string;
  contentType: string;
}

const DEFAULT_VIDEO_TYPE = 'video/mp4';

/** `mimeType`, else `encoding` (`mp4`, or a whole media type), else MP4. */
function mediaTypeOf(mimeType: string | null | undefined, encoding: string | null | undefined): string {
  const explicit = firstNonEmptyString(mimeType);
  if (explicit !== null) return explicit;
  const named = firstNonEmptyString(encoding);
  if (named === null) return DEFAULT_VIDEO_TYPE;
  return named.includes('/') ? named : `video/${named}`;
}

/** The output type a media type names (`video/mp4` → video, `image/png` → image…). */
function outputTypeOf(mediaType: string): TaskOutput['type'] {
  const major = mediaType.split('/')[0]?.trim().toLowerCase();
  return major === 'video' || major === 'image' || major === 'audio' ? major : 'file';
}

function topLevelBase64(response: OperationResponse): string | null {
  return firstNonEmptyString(response.bytesBase64Encoded, response.video);
}

/** The base64 of the inline video an output's locator names, and its media type; undefined when the operation has none there. */
export function findInlineVideo(operation: Operation, locator: string): InlineVideo | undefined {
  const response = operation.response;
  if (response === null || response === undefined) return undefined;
  if (locator === INLINE_TOP_LEVEL) {
    const base64 = topLevelBase64(response);
    return base64 === null ? undefined : { base64, contentType: mediaTypeOf(response.mimeType, response.encoding) };
  }
  const index = INLINE_VIDEO.exec(locator)?.[1];
  const video = index === undefined ? undefined : response.videos?.[Number(index)];
  const base64 = firstNonEmptyString(video?.bytesBase64Encoded);
  if (video === undefined || video === null || base64 === null) return undefined;
  return { base64, contentType: mediaTypeOf(video.mimeType, video.encoding) };
}

function toOutput(video: OperationVideo, index: number, storageBaseUrl: string): StateOutput | undefined {
  const gcsUri = firstNonEmptyString(video.gcsUri);
  const type = outputTypeOf(mediaTypeOf(video.mimeType, video.encoding));
  if (gcsUri !== null) {
    const url = storageUrl(gcsUri, storageBaseUrl);
    return url === null ? undefined : { type, url };
  }
  // Inline bytes stay upstream: /content asks the operation again (the Task never holds them).
  if (firstNonEmptyString(video.bytesBase64Encoded) !== null) return { type, url: inlineLocator(index), private: true };
  return undefined;
}

function toOutputs(response: OperationResponse, storageBaseUrl: string): StateOutput[] {
  const outputs: StateOutput[] = [];
  (response.videos ?? []).forEach((video, index) => {
    const output = video === null ? undefined : toOutput(video, index, storageBaseUrl);
    if (output !== undefined) outputs.push(output);
  });
  if (outputs.length === 0 && topLevelBase64(response) !== null) {
    outputs.push({ type: outputTypeOf(mediaTypeOf(response.mimeType, response.encoding)), url: INLINE_TOP_LEVEL, private: true });
  }
  return outputs;
}

const FILTERED_WITHOUT_REASON = 'The provider withheld the result: its safety filter blocked the generated video';

/** The safety filter's verdict on a finished operation with no video: its first reason, or a sentence saying so. */
function filteredError(response: OperationResponse): TaskError | null {
  const count = Number(response.raiMediaFilteredCount ?? 0);
  const reasons = response.raiMediaFilteredReasons ?? [];
  if (!(count > 0) && reasons.length === 0) return null;
  return { code: 'content_filtered', message: firstNonEmptyString(...reasons) ?? FILTERED_WITHOUT_REASON };
}

/** google.rpc.Status as the task's error: `code` (or `status`) and `message`. */
function operationError(error: NonNullable<Operation['error']>): TaskError {
  const code = typeof error.code === 'number' && Number.isFinite(error.code) ? String(error.code) : firstNonEmptyString(error.code, error.status);
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: firstNonEmptyString(error.message) ?? FAILURE_WITHOUT_DETAILS.message };
}

export interface MapContext {
  nativeId: string;
  name: OperationName;
  storageBaseUrl: string;
}

/**
 * An operation as a draft: running until `done`; then failed with its `error`, succeeded
 * with its videos, or failed `content_filtered` when the safety filter left none. A done
 * operation with neither is a succeeded draft without outputs: finalizeTask refuses it.
 */
export function toTaskDraft(operation: Operation, context: MapContext): TaskDraft {
  const error = operation.error === null || operation.error === undefined ? null : operationError(operation.error);
  const done = operation.done === true || error !== null;
  const draft: TaskDraft = {
    provider_task_id: context.nativeId,
    status: 'in_progress',
    provider_status: done ? 'done' : 'running',
    progress: null,
    outputs: [],
    error: null,
    model: context.name.model,
    created_at: null,
    completed_at: null,
  };
  if (!done) return draft;
  if (error !== null) return { ...draft, status: 'failed', error };
  const response = operation.response ?? {};
  const outputs = toOutputs(response, context.storageBaseUrl);
  const filtered = outputs.length === 0 ? filteredError(response) : null;
  if (filtered !== null) return { ...draft, status: 'failed', error: filtered };
  return { ...draft, status: 'succeeded', outputs };
}
