/**
 * `POST /mcp`: the body is a Model Context Protocol message (JSON-RPC 2.0), read by the MCP
 * SDK; the gateway only checks that it is one, so a malformed body is a problem like any
 * other bad request.
 */
import { z } from 'zod';

export const McpMessageSchema = z
  .looseObject({
    jsonrpc: z.literal('2.0'),
    method: z.string().optional().describe('A request or notification: its method, e.g. `initialize`, `tools/list`, `tools/call`'),
    id: z.union([z.string(), z.number()]).optional().describe('A request (or a response to one): its id'),
  })
  .meta({
    id: 'McpMessage',
    description: 'One JSON-RPC 2.0 message of the Model Context Protocol: a request, a notification or a response. Its other members are the protocol\'s.',
  });
