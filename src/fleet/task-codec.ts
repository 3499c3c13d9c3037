/**
 * Task states as they cross replicas (Redis values, flight outcomes, poll messages). What
 * comes back from Redis was written by another process, maybe another version, so it is
 * parsed like any untrusted input: a value that does not fit is a miss, never a crash.
 */
import { z } from 'zod';
import type { TaskState } from '../providers/types.js';
import { TaskOutputSchema, TaskSchema } from '../../schemas/task.js';
import { decodeGatewayError, encodeGatewayError } from './gateway-errors.js';
import { SharedErrorSchema, type FlightCodec } from './single-flight.js';
import type { MessageCodec } from './leader-loop.js';
import type { Observation, PollMessage } from './store.js';

const { id: _id, provider: _provider, poll_after_ms: _pollAfter, content_url: _contentUrl, outputs: _outputs, archived_at: _archivedAt, ...stateFields } = TaskSchema.shape;

export const TaskStateSchema: z.ZodType<TaskState> = z.object({
  ...stateFields,
  outputs: z.array(TaskOutputSchema.extend({ url: z.string().min(1), private: z.literal(true).optional() })),
  cadenceMs: z.number().int().positive().optional(),
  filesRemoved: z.literal(true).optional(),
});

export const ObservationSchema: z.ZodType<Observation> = z.object({
  state: TaskStateSchema,
  fetchedAt: z.number().finite(),
  archived: z.object({ at: z.string(), expiresAt: z.string().nullable() }).optional(),
});

const PollMessageSchema: z.ZodType<PollMessage> = z.union([
  z.object({ observation: ObservationSchema }),
  z.object({ error: SharedErrorSchema, permanent: z.boolean() }),
]);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const OBSERVATION_FLIGHT_CODEC: FlightCodec<Observation> = {
  encodeValue: (value) => value,
  decodeValue: (data) => ObservationSchema.parse(data),
  encodeError: encodeGatewayError,
  decodeError: decodeGatewayError,
};

export const POLL_MESSAGE_CODEC: MessageCodec<PollMessage> = {
  encode: (message) => JSON.stringify(message),
  decode: (text) => {
    const parsed = PollMessageSchema.safeParse(parseJson(text));
    return parsed.success ? parsed.data : undefined;
  },
};
