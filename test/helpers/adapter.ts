/**
 * Shared pieces of the provider adapter tests: recorded fixtures, upstream answers, and
 * assertions on the one typed error an adapter may throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError, isGatewayError, type ProblemCode } from '../../src/errors.js';
import type { HttpProviderDefinition, InterpretContext } from '../../src/providers/define.js';
import { finalizeTask, StatusTable } from '../../src/providers/normalize.js';
import type { ProviderDefinition, TaskState, UpstreamCall, UpstreamRequest } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';

export function answer(statusCode: number, body: string | object, headers: UpstreamResponse['headers'] = {}): UpstreamResponse {
  return { statusCode, headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export function adapterHarness(definition: HttpProviderDefinition, context: InterpretContext) {
  function fixture(name: string): string {
    return readFileSync(new URL(`../fixtures/${definition.name}/${name}.json`, import.meta.url), 'utf8');
  }

  function interpretError(response: UpstreamResponse): GatewayError {
    try {
      definition.interpret(response, context);
    } catch (error) {
      assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
      assert.equal(error.provider, definition.name);
      return error;
    }
    assert.fail('interpret returned instead of throwing');
  }

  function assertThrowsCode(response: UpstreamResponse, code: ProblemCode): GatewayError {
    const error = interpretError(response);
    assert.equal(error.code, code);
    return error;
  }

  return { fixture, interpretError, assertThrowsCode };
}

/** A request a provider's lookup made, with the headers its `authorize` added. */
export interface MadeRequest extends UpstreamRequest {
  url: string;
  headers: Record<string, string>;
}

export interface LookupRun {
  state: TaskState;
  requests: MadeRequest[];
  /** Secrets the provider learned at run time (minted tokens). */
  learned: string[];
}

/**
 * Runs a provider's lookup as the gateway would (connect, authorize every request, map
 * the status with its table) against scripted answers instead of a network: the unit test
 * of a provider folder. `respond` answers each request in turn.
 */
export async function runLookup(
  definition: ProviderDefinition,
  nativeId: string,
  respond: (request: MadeRequest, index: number) => UpstreamResponse | Promise<UpstreamResponse>,
  options: { credentials?: Readonly<Record<string, string>> | undefined; baseUrl?: string; urls?: Record<string, string> } = {},
): Promise<LookupRun> {
  const baseUrl = options.baseUrl ?? definition.defaultBaseUrl ?? 'https://relay.example';
  const credentials = options.credentials ?? Object.fromEntries(definition.credentials.map((spec) => [spec.setting, `test-${spec.setting}`]));
  const urls = options.urls ?? Object.fromEntries((definition.urls ?? []).map((spec) => [spec.setting, spec.default]));
  const requests: MadeRequest[] = [];
  const learned: string[] = [];
  const call: UpstreamCall = {
    async request(request) {
      const url = new URL(/^https?:\/\//.test(request.path) ? request.path : `${baseUrl}${request.path}`);
      for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
      const headers = { ...request.headers, ...(request.auth === false ? {} : await connection.authorize(url, call)) };
      const made: MadeRequest = { ...request, url: url.href, headers };
      requests.push(made);
      return respond(made, requests.length - 1);
    },
    remainingMs: 10_000,
  };
  const connection = definition.connect({
    settings: { name: definition.name, credentials, baseUrl, urls, pollIntervalMs: definition.cadenceMs, connections: 1 },
    addSecret: (secret) => learned.push(secret),
    newCall: () => call,
  });
  const draft = await connection.lookup(nativeId, call);
  return { state: finalizeTask(definition.name, new StatusTable(definition.statuses), draft), requests, learned };
}

/** The GatewayError a lookup throws, checked to name its provider. */
export async function lookupError(...args: Parameters<typeof runLookup>): Promise<GatewayError> {
  try {
    await runLookup(...args);
  } catch (error) {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.provider, args[0].name);
    return error;
  }
  assert.fail('the lookup returned instead of throwing');
}
