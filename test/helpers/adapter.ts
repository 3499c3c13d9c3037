/**
 * Shared pieces of the provider adapter tests: recorded fixtures, upstream answers, and
 * assertions on the one typed error an adapter may throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError, isGatewayError, type ProblemCode } from '../../src/errors.js';
import type { InterpretContext, ProviderDefinition } from '../../src/providers/types.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';

export function answer(statusCode: number, body: string | object, headers: UpstreamResponse['headers'] = {}): UpstreamResponse {
  return { statusCode, headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export function adapterHarness(definition: ProviderDefinition, context: InterpretContext) {
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
