/**
 * What each problem code means and what to do about it: the page the gateway serves at
 * the code's `type` URI (`GET /problems/{code}`). Typed against the catalog, so a new code
 * cannot be added without its page.
 */
import type { ProblemCode } from './problem.js';

export interface ProblemGuide {
  /** What happened, in a sentence or two. */
  meaning: string;
  /** What the client (or the operator) should do. */
  action: string;
}

export const PROBLEM_GUIDE: Readonly<Record<ProblemCode, ProblemGuide>> = {
  invalid_task_id: {
    meaning: 'The task id in the path is not one the gateway accepts: 1-200 characters of letters, digits, ".", "_", ":" and "-", and not empty after "provider:".',
    action: 'Send the id exactly as the provider gave it, percent-encoded as one path segment, or qualify it as "<provider>:<id>". Do not retry unchanged.',
  },
  invalid_request: {
    meaning: 'A query parameter, header or body is not valid (for example `wait` outside 0-60, a malformed JSON body, an unsupported media type, or a range outside the file).',
    action: '`detail` names the value; fix the request. Do not retry unchanged.',
  },
  unauthorized: {
    meaning: 'This gateway needs a client key (`Authorization: Bearer <key>`) and none or a wrong one was sent, or a browser link token is malformed, expired, for another task or route, or was minted with a key that is no longer configured.',
    action: 'Send a valid client key. For a link, ask your backend for a fresh one (`POST /tasks/{id}/links`).',
  },
  not_found: {
    meaning: 'No route matches this path.',
    action: 'See `/docs` or `/openapi.json` for the routes this gateway has.',
  },
  no_provider_for_task_id: {
    meaning: 'No routing rule matches this id, or the provider named before ":" is unknown.',
    action: 'Qualify the id as "<provider>:<id>" with one of the providers `/readyz` lists, or ask the operator for a routing rule.',
  },
  task_not_found: {
    meaning: 'The provider (or every candidate provider of an ambiguous id) says it has no such task.',
    action: 'Check the id and the provider. Answers are remembered for a short while, so a task that appears later is seen after that window.',
  },
  output_not_found: {
    meaning: '`/content?output=N` asked for an output the task does not have.',
    action: 'Use an index of the task\'s `outputs` (0 is the first), or leave `output` out for the primary one.',
  },
  method_not_allowed: {
    meaning: 'The path exists but not with this method.',
    action: 'Use one of the methods in the `Allow` header.',
  },
  task_not_ready: {
    meaning: 'The task has no result file yet: it has not succeeded (`detail` names its status).',
    action: 'Wait for `status: succeeded` (`?wait=`, or `/events`), then fetch `content_url`. A failed or canceled task never has one.',
  },
  webhook_limit_reached: {
    meaning: 'The task already has 10 active webhooks, the most one task may have.',
    action: 'End one you no longer need (`DELETE /tasks/{id}/webhooks/{webhook_id}`), or fan out from one receiver of your own.',
  },
  content_expired: {
    meaning: 'The provider no longer serves the result file (it answered 403, 404 or 410 for it), and asking the provider again gave no working link.',
    action: 'Providers keep files for a limited time (see `expires_at`). Generate the result again at the provider.',
  },
  unsupported_media_type: {
    meaning: 'The request body is framed in a way the gateway does not read: not `application/json`, compressed (`Content-Encoding`), or in a charset other than UTF-8.',
    action: 'Send the body as uncompressed UTF-8 `application/json`.',
  },
  rate_limited: {
    meaning: 'This client (its key, or its address on an open gateway) sent more requests per minute than the gateway allows; a batch counts one per id.',
    action: 'Wait `Retry-After` seconds. Use `?wait=`, `/events` or a webhook instead of polling.',
  },
  quota_exceeded: {
    meaning: 'This client (its key, or its address on an open gateway) already holds as many of something as one client may hold at once: watched tasks (`wait`, SSE streams and active webhooks together, `limits.watchesPerClient`), webhooks (`webhooks.maxPerClient`, all of them active) or `/content` streams (`content.maxStreamsPerClient`). `detail` names the cap.',
    action: 'Close streams or waits you no longer need, or end webhooks (`DELETE /tasks/{id}/webhooks/{webhook_id}`), then retry; `Retry-After`, when present, says when one frees up. Follow many tasks with one webhook each rather than one stream each, or ask the operator for a higher cap.',
  },
  internal_error: {
    meaning: 'The gateway failed unexpectedly: a bug.',
    action: 'Retry later; if it persists, report the `request_id` to the operator.',
  },
  upstream_auth_failed: {
    meaning: "The provider rejected the gateway's own key for it (HTTP 401/403): revoked, out of balance, or banned.",
    action: 'Nothing to change on the client side. The operator must fix the provider key.',
  },
  upstream_error: {
    meaning: 'The provider failed (5xx, a connection failure after retries, or an unexpected answer).',
    action: 'Retry later with backoff.',
  },
  upstream_invalid_response: {
    meaning: 'The provider answered something the gateway cannot turn into a valid Task: not JSON, too large, or a success without a usable result.',
    action: 'Retry later; if it persists, report the `request_id` and `provider` to the operator.',
  },
  content_blocked: {
    meaning: 'The result URL the provider gave points at an address the gateway refuses to fetch (internal or metadata addresses, a scheme other than http(s), or a user:password in it).',
    action: 'Nothing to do on the client side. The operator can allow a trusted host with `content.allowHosts`.',
  },
  upstream_rate_limited: {
    meaning: 'The provider is rate limiting the gateway (HTTP 429).',
    action: 'Wait `Retry-After` seconds (passed on from the provider, 5 when it said none).',
  },
  provider_not_configured: {
    meaning: 'The id routes to a provider that has no key on this gateway.',
    action: 'The operator must set that provider\'s `<PREFIX>_API_KEY`.',
  },
  provider_unavailable: {
    meaning: "The provider kept failing and the gateway's circuit breaker stops asking it for a while.",
    action: 'Wait `Retry-After` seconds; one probe then tells whether it is back.',
  },
  service_unavailable: {
    meaning: 'The gateway is shutting down, holds as many waiting clients (or active webhooks) as it allows, or cannot keep a webhook in its Redis right now (unreachable, out of memory, or read-only).',
    action: 'Retry after `Retry-After` seconds (a load balancer sends you to another replica), or poll without `wait`.',
  },
  webhooks_not_configured: {
    meaning: 'This gateway has no webhook signing secret (`TASKGATE_WEBHOOK_SECRET`), so it sends no webhooks.',
    action: 'Wait with `?wait=` or `/events` instead, or ask the operator to set `TASKGATE_WEBHOOK_SECRET` (`whsec_` + base64 of at least 24 random bytes).',
  },
  upstream_timeout: {
    meaning: 'The provider did not answer within the gateway\'s budget (`UPSTREAM_TIMEOUT_MS`, retries included), or a result file sent no headers within it.',
    action: 'Retry later with backoff.',
  },
};
