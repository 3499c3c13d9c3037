/**
 * POST /tasks/{id}/links: task-scoped, expiring URLs an app's backend hands to its browser
 * (docs/content-and-links.md, "Browser links").
 */
import { z } from 'zod';

export const MIN_LINK_TTL_SECONDS = 60;
export const MAX_LINK_TTL_SECONDS = 86_400;
export const DEFAULT_LINK_TTL_SECONDS = 900;

export const LinkRequestSchema = z
  .object({
    ttl_seconds: z
      .number()
      .int()
      .min(MIN_LINK_TTL_SECONDS)
      .max(MAX_LINK_TTL_SECONDS)
      .default(DEFAULT_LINK_TTL_SECONDS)
      .describe(`How long the links work, in seconds (${MIN_LINK_TTL_SECONDS}-${MAX_LINK_TTL_SECONDS})`),
  })
  .strict()
  .meta({ id: 'LinkRequest', description: 'Options of the links to mint; the body is optional.' });

/** The body is optional: none at all (Fastify hands the validator null) means the defaults. */
export const OptionalLinkRequestSchema = z.preprocess((body) => body ?? {}, LinkRequestSchema);

const linkUrl = (what: string) => z.string().meta({ format: 'uri' }).describe(`${what}, absolute, carrying \`?token=…\``);

export const LinkSetSchema = z
  .object({
    task_id: z.string().describe('The task id the links are for, as given in the path'),
    expires_at: z.string().meta({ format: 'date-time' }).describe('When the links stop working, RFC 3339 UTC'),
    task_url: linkUrl('`GET /tasks/{id}`'),
    events_url: linkUrl('`GET /tasks/{id}/events` (for `EventSource`)'),
    content_url: linkUrl('`GET /tasks/{id}/content` (for `<video src>` or a download)'),
  })
  .meta({ id: 'LinkSet', description: 'URLs a browser can use without a client key, for one task, until they expire.' });
export type LinkSet = z.infer<typeof LinkSetSchema>;

/** The `token` query parameter of the routes a link may call. */
export const LinkTokenQuerySchema = z.object({
  token: z.string().max(512).optional().describe('A link token from `POST /tasks/{id}/links`, in place of `Authorization`'),
});
