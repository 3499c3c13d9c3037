/**
 * Who a request is, for what it holds across requests and caps (webhooks, waits, streams):
 * its client key when the gateway is keyed, its address when it is open or the request
 * came with a browser link. A key is named by its tag (a digest that reveals nothing of
 * it, see src/auth.ts), not by its place in TASKGATE_API_KEYS, so reordering the keys
 * hands nothing to another client.
 */
import type { FastifyRequest } from 'fastify';
import { keyTagOf } from './auth.js';

export function clientOf(request: FastifyRequest): string {
  return request.clientKeyTag === undefined ? `address:${request.ip}` : `key:${request.clientKeyTag}`;
}

/** The client a request with this key is (operators' tools and tests). */
export function clientOfKey(key: string): string {
  return `key:${keyTagOf(key)}`;
}

/** The client a request from this address without a key is. */
export function clientOfAddress(address: string): string {
  return `address:${address}`;
}
