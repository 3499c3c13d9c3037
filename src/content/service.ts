/**
 * A succeeded task's result file for GET and HEAD /tasks/{id}/content: which output, from
 * where (the result archive, the provider's inline bytes, or the file's URL, signed anew
 * once if it went stale), and how it is named for the client. The route only translates
 * HTTP: it hands in the request's range and answer, and writes back what this returns.
 */
import type { Archive } from '../archive/index.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { isAbsoluteHttpUrl } from '../providers/normalize.js';
import type { TaskSnapshot } from '../tasks/render.js';
import type { TaskService } from '../tasks/service.js';
import { bufferContent } from './bytes.js';
import { dispositionOf } from './naming.js';
import type { ContentFetch, ContentProxy, ContentTransfer, ContentUpstream } from './proxy.js';

export interface ResultRequest {
  /** `?output=`: which of the task's outputs; default the primary one. */
  output: number | undefined;
  /** `?download=1`: saved as a file, never shown in the page. */
  download: boolean;
  fetch: ContentFetch;
}

export interface ResultFile extends ContentTransfer {
  /** The `Content-Disposition`: inline or attachment, with a file name from the task id. */
  disposition: string;
}

export interface ContentServiceOptions {
  tasks: TaskService;
  proxy: ContentProxy;
  /** When the result archive is on: files it holds are served from it. */
  archive: Archive | undefined;
  metrics: Pick<Metrics, 'onContentRequest'>;
}

/** The index of the output `url` names (the first video, else the first output). */
function primaryIndex(snapshot: TaskSnapshot): number {
  const { state } = snapshot;
  const index = state.outputs.findIndex((output) => output.url === state.url);
  return index === -1 ? 0 : index;
}

export class ContentService {
  constructor(private readonly options: ContentServiceOptions) {}

  /** The result file of task `id`, opened and ready to be sent; throws the contract's problems. */
  async open(id: string, request: ResultRequest): Promise<ResultFile> {
    const { tasks, proxy, metrics } = this.options;
    const snapshot = await tasks.getTask(id);
    const { state, provider } = snapshot;
    if (state.status !== 'succeeded') {
      metrics.onContentRequest(provider, 'task_not_ready');
      throw new GatewayError('task_not_ready', { provider, detail: `The task is ${state.status}; its result can be fetched once it has succeeded.` });
    }
    if (state.filesRemoved === true) {
      metrics.onContentRequest(provider, 'content_expired');
      throw new GatewayError('content_expired', { provider, detail: `${provider} says it removed this task's result files.` });
    }
    const index = request.output ?? primaryIndex(snapshot);
    if (state.outputs[index] === undefined) {
      throw new GatewayError('output_not_found', {
        detail: `The task has ${state.outputs.length} output(s): ask for output 0${state.outputs.length > 1 ? `-${state.outputs.length - 1}` : ''}.`,
      });
    }
    const { fetch } = request;
    let served = snapshot;
    const attributes = { 'taskgate.provider': provider, 'taskgate.content.output': index, 'http.request.method': fetch.method, 'taskgate.content.range': fetch.range };
    const transfer = await proxy.transfer(provider, attributes, async () => {
      const opened = await this.openOutput(snapshot, index, fetch);
      served = opened.snapshot;
      return opened.upstream;
    });
    const output = served.state.outputs[index]!;
    return { ...transfer, disposition: dispositionOf(served.nativeId, index, output, transfer.headers['content-type'], request.download) };
  }

  /**
   * The upstream transfer for one output, asking the provider again once if a cached URL
   * went stale (at most once per `cache.notFoundMs` per task: see TaskService.refreshTask).
   */
  private async openOutput(snapshot: TaskSnapshot, index: number, fetch: ContentFetch): Promise<{ snapshot: TaskSnapshot; upstream: ContentUpstream }> {
    const { tasks, proxy, archive } = this.options;
    const kept = await archive?.openFile(snapshot.provider, snapshot.nativeId, index, fetch);
    if (kept !== undefined) return { snapshot, upstream: kept };
    const client = tasks.lookup.client(snapshot.provider);
    const output = snapshot.state.outputs[index]!;
    const { url } = output;
    if (output.private === true && !isAbsoluteHttpUrl(url)) {
      // Inline media: asked of the provider again, never kept in the task's cache.
      const inline = await client.openInline(snapshot.nativeId, output);
      return { snapshot, upstream: bufferContent(client.name, inline.bytes, inline.contentType, fetch) };
    }
    try {
      return { snapshot, upstream: await proxy.open(client, url, fetch) };
    } catch (error) {
      if (!isGatewayError(error) || error.code !== 'content_expired') throw error;
      // Signed links expire while the task sits in the cache; a fresh status answer signs anew.
      const fresh = await tasks.refreshTask(snapshot);
      const freshUrl = fresh.state.outputs[index]?.url;
      if (freshUrl === undefined || freshUrl === url) throw error;
      return { snapshot: fresh, upstream: await proxy.open(client, freshUrl, fetch) };
    }
  }
}
