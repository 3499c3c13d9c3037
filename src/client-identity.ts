/**
 * Who a request is, for what it holds across requests (webhooks, watches): its client
 * key when the gateway is keyed, its address when it is open. A key is named by its tag
 * (a digest that reveals nothing of it, see src/auth.ts), not by its place in
 * TASKGATE_API_KEYS, so reordering the keys hands nothing to another client.
 */
import type { FastifyRequest } from 'fastify';
import type { ClientKeys } from './auth.js';

export type ClientIdentity = (request: FastifyRequest) => string;

export function clientIdentity(keys: ClientKeys): ClientIdentity {
  return (request) => {
    const keyId = request.clientKeyId;
    if (keyId === undefined) return `address:${request.ip}`;
    return `key:${keys.tagFor(keyId) ?? keyId}`;
  };
}
