/**
 * GET /problems/{code}: the page behind every problem's `type` URI (RFC 9457 "the type URI
 * should resolve to human-readable documentation"): HTML for browsers, the catalog entry as
 * JSON when asked (`Accept: application/json`).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../src/errors.js';
import { PROBLEM_GUIDE } from '../schemas/problem-guide.js';
import { PROBLEM_CATALOG, PROBLEM_CODES, problemType, type ProblemCode } from '../schemas/problem.js';
import { NO_AUTH } from './documentation.js';
import { problemResponses } from './problem-responses.js';

const ProblemTypeSchema = z
  .object({
    type: z.string().describe('This page, the `type` of problems with this code'),
    code: z.enum(PROBLEM_CODES),
    status: z.number().int().describe('The HTTP status problems with this code have'),
    title: z.string(),
    meaning: z.string().describe('What happened'),
    action: z.string().describe('What to do about it'),
  })
  .meta({ id: 'ProblemType', description: 'What a problem code means and what to do about it.' });

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]!);
// Backticks in the guide mark code; shown as <code> on the page.
const withCode = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

function page(code: ProblemCode): string {
  const { status, title } = PROBLEM_CATALOG[code];
  const { meaning, action } = PROBLEM_GUIDE[code];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} (${code}) · taskgate</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .25rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p><code>${code}</code> · HTTP ${status}</p>
<h2>What it means</h2><p>${withCode(meaning)}</p>
<h2>What to do</h2><p>${withCode(action)}</p>
<p>Every error of this gateway is <code>application/problem+json</code>; see <a href="/docs">the API docs</a>.</p>
</body></html>`;
}

/** JSON when the client prefers it (an API client), HTML otherwise (a browser following the link). */
function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const json = /application\/(?:problem\+)?json/i.exec(accept)?.index;
  const html = /text\/html/i.exec(accept)?.index;
  return json !== undefined && (html === undefined || json < html);
}

const problemRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/problems/:code',
    {
      schema: {
        operationId: 'getProblemType',
        tags: ['operations'],
        summary: 'What a problem code means',
        description:
          'The page at every problem\'s `type` URI: what the code means and what to do. HTML by default; the catalog entry as JSON with `Accept: application/json`.',
        security: NO_AUTH,
        params: z.object({ code: z.string().describe('A problem `code`, e.g. `task_not_found`') }),
        headers: z.object({ accept: z.string().optional() }),
        response: {
          200: {
            description: 'The page (HTML), or the catalog entry (JSON) when asked',
            content: {
              'text/html': { schema: { type: 'string' } },
              'application/json': { schema: ProblemTypeSchema },
            },
          } as never,
          ...problemResponses(['not_found']),
        },
      },
    },
    async (request, reply) => {
      const { code } = request.params;
      if (!Object.hasOwn(PROBLEM_CATALOG, code)) {
        throw new GatewayError('not_found', { detail: `There is no problem code "${code.slice(0, 64)}"; see /docs.` });
      }
      const known = code as ProblemCode;
      reply.header('cache-control', 'public, max-age=86400').header('vary', 'Accept');
      if (!wantsJson(request.headers.accept)) return reply.type('text/html; charset=utf-8').send(page(known));
      const { status, title } = PROBLEM_CATALOG[known];
      return reply.type('application/json; charset=utf-8').send(JSON.stringify({ type: problemType(known), code: known, status, title, ...PROBLEM_GUIDE[known] }));
    },
  );
};

export default problemRoutes;
