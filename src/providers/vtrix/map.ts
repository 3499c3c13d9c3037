/**
 * Pure mapping of a parsed vtrix body onto a TaskDraft (finalizeTask does the rest).
 */
import { GatewayError } from '../../errors.js';
import type { TaskOutput } from '../../../schemas/task.js';
import {
  firstNonEmptyString,
  resolveResultUrl,
  toOutputType,
  toProgress,
  toRfc3339,
  toTaskError,
} from '../normalize.js';
import type { TaskDraft } from '../types.js';
import type { InterpretContext } from '../define.js';
import type { VtrixBody, VtrixEnvelopeStatus, VtrixTask } from './schema.js';

export const VTRIX_NAME = 'vtrix';

// vtrix does not document its unknown-task answer (docs/providers/vtrix.md), so match the usual wordings.
const MISSING_TASK_TEXT = /not[\s_-]*found|not[\s_-]*exists?|no[\s_-]+such[\s_-]+task/i;

/** Does one of these upstream error texts say the task does not exist? */
export function saysTaskIsMissing(texts: readonly string[]): boolean {
  return texts.some((text) => MISSING_TASK_TEXT.test(text));
}

function toOutputs(task: VtrixTask, baseUrl: string): TaskOutput[] {
  const outputs: TaskOutput[] = [];
  for (const item of task.output ?? []) {
    for (const content of item?.content ?? []) {
      const url = resolveResultUrl(content?.url, baseUrl);
      if (url !== null) outputs.push({ type: toOutputType(content?.type), url });
    }
  }
  return outputs;
}

/**
 * docs/providers/vtrix.md vtrix variant 3 (legacy wrapped) without a usable `data`: the envelope's own
 * status decides. "Not found" wording or code 404 → task_not_found; any other non-200 code
 * is the provider reporting its own failure → upstream_error; a 200 "success" with no task
 * breaks the contract → upstream_invalid_response.
 */
function envelopeWithoutTask(envelope: VtrixEnvelopeStatus): GatewayError {
  const code = envelope.code === undefined || envelope.code === null ? null : String(envelope.code).trim();
  const texts = [code ?? '', envelope.message ?? ''];
  if (code === '404' || saysTaskIsMissing(texts)) {
    return new GatewayError('task_not_found', { provider: VTRIX_NAME, detail: 'vtrix has no task with this id' });
  }
  if (code !== null && code !== '200' && code !== '') {
    return new GatewayError('upstream_error', {
      provider: VTRIX_NAME,
      cause: envelope,
      detail: 'vtrix reported an error inside a successful HTTP answer',
    });
  }
  return new GatewayError('upstream_invalid_response', {
    provider: VTRIX_NAME,
    detail: 'vtrix returned a wrapped answer without a task',
  });
}

export function toTaskDraft(body: VtrixBody, context: InterpretContext): TaskDraft {
  if (body.task === null) throw envelopeWithoutTask(body.envelope);
  const { task } = body;
  return {
    // Numeric ids are not vtrix ids (they are xid-like strings); the asked-for id is safer.
    provider_task_id: firstNonEmptyString(task.id, task.task_id) ?? context.nativeId,
    provider_status: task.status,
    // docs/providers/vtrix.md vtrix variant 1 sends a fraction (0.42), variant 3 a percentage (10).
    progress: toProgress(task.progress, 'fraction-up-to-one'),
    outputs: toOutputs(task, context.baseUrl),
    error: toTaskError(task.error),
    model: firstNonEmptyString(task.model),
    created_at: toRfc3339(task.created_at),
    completed_at: toRfc3339(task.completed_at),
  };
}
