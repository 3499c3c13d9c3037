/**
 * A real OTLP/HTTP trace receiver on loopback, as a collector would be: it accepts
 * `POST /v1/traces` in either encoding the gateway can send (protobuf, JSON), decodes each
 * export itself (a small protobuf reader below, no OpenTelemetry code), answers 200, and
 * keeps the spans for the test to look at.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, AttributeValue>;
  scope: string;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
export const STATUS_ERROR = 2;

// ---- protobuf wire format: just enough of it for opentelemetry/proto/trace/v1 ----

type WireValue = bigint | Buffer;

/** One message's fields by number, each with every value it had (repeated fields). */
function readMessage(buffer: Buffer): Map<number, WireValue[]> {
  const fields = new Map<number, WireValue[]>();
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const field = key >>> 3;
    let value: WireValue;
    switch (key & 7) {
      case 0:
        value = varint();
        break;
      case 1:
        value = buffer.subarray(offset, (offset += 8));
        break;
      case 2: {
        const length = Number(varint());
        value = buffer.subarray(offset, (offset += length));
        break;
      }
      case 5:
        value = buffer.subarray(offset, (offset += 4));
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
    const values = fields.get(field) ?? [];
    values.push(value);
    fields.set(field, values);
  }
  return fields;
}

const bytesOf = (fields: Map<number, WireValue[]>, field: number): Buffer[] => (fields.get(field) ?? []).filter((value): value is Buffer => Buffer.isBuffer(value));
const firstBytes = (fields: Map<number, WireValue[]>, field: number): Buffer => bytesOf(fields, field)[0] ?? Buffer.alloc(0);
const firstNumber = (fields: Map<number, WireValue[]>, field: number): number => {
  const value = fields.get(field)?.[0];
  return typeof value === 'bigint' ? Number(value) : 0;
};

function protobufAnyValue(buffer: Buffer): AttributeValue {
  const fields = readMessage(buffer);
  if (fields.has(1)) return firstBytes(fields, 1).toString('utf8');
  if (fields.has(2)) return firstNumber(fields, 2) === 1;
  if (fields.has(3)) return Number(BigInt.asIntN(64, fields.get(3)![0] as bigint));
  if (fields.has(4)) return firstBytes(fields, 4).readDoubleLE(0);
  if (fields.has(5)) return bytesOf(readMessage(firstBytes(fields, 5)), 1).map(protobufAnyValue);
  return undefined;
}

function protobufAttributes(keyValues: Buffer[]): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const keyValue of keyValues) {
    const fields = readMessage(keyValue);
    attributes[firstBytes(fields, 1).toString('utf8')] = protobufAnyValue(firstBytes(fields, 2));
  }
  return attributes;
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of bytesOf(readMessage(body), 1).map(readMessage)) {
    const resource = protobufAttributes(bytesOf(readMessage(firstBytes(resourceSpans, 1)), 1));
    for (const scopeSpans of bytesOf(resourceSpans, 2).map(readMessage)) {
      const scope = firstBytes(readMessage(firstBytes(scopeSpans, 1)), 1).toString('utf8');
      for (const span of bytesOf(scopeSpans, 2).map(readMessage)) {
        const status = readMessage(firstBytes(span, 15));
        spans.push({
          traceId: firstBytes(span, 1).toString('hex'),
          spanId: firstBytes(span, 2).toString('hex'),
          parentSpanId: firstBytes(span, 4).toString('hex'),
          name: firstBytes(span, 5).toString('utf8'),
          kind: firstNumber(span, 6),
          attributes: protobufAttributes(bytesOf(span, 9)),
          status: { code: firstNumber(status, 3), message: firstBytes(status, 2).toString('utf8') },
          links: bytesOf(span, 13)
            .map(readMessage)
            .map((link) => ({ traceId: firstBytes(link, 1).toString('hex'), spanId: firstBytes(link, 2).toString('hex') })),
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

// ---- OTLP/JSON ----

interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: JsonKeyValue[];
  status?: { code?: number; message?: string };
  links?: Array<{ traceId: string; spanId: string }>;
}
interface JsonExport {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: JsonSpan[] }>;
  }>;
}

function jsonAnyValue(value: JsonAnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(jsonAnyValue);
  return undefined;
}

function jsonAttributes(keyValues: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((keyValues ?? []).map(({ key, value }) => [key, jsonAnyValue(value)]));
}

function decodeJson(body: Buffer): ReceivedSpan[] {
  const exported = JSON.parse(body.toString('utf8')) as JsonExport;
  return (exported.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        attributes: jsonAttributes(span.attributes),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
        resource,
        scope: scopeSpans.scope?.name ?? '',
      })),
    );
  });
}

// ---- the receiver ----

export interface ReceivedExport {
  contentType: string;
  headers: IncomingMessage['headers'];
  spans: ReceivedSpan[];
}

export interface OtlpReceiver {
  /** Base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces). */
  url: string;
  readonly exports: ReceivedExport[];
  readonly spans: ReceivedSpan[];
  /** Resolves with every span received once `predicate` holds for them; rejects after `timeoutMs`. */
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type Closable = { after(fn: () => Promise<void> | void): void };

export async function startOtlpReceiver(t: Closable): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const contentType = request.headers['content-type'] ?? '';
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const decoded = contentType.startsWith('application/json') ? decodeJson(body) : decodeProtobuf(body);
      exports.push({ contentType, headers: request.headers, spans: decoded });
      spans.push(...decoded);
      // An empty ExportTraceServiceResponse: `{}` in JSON, no bytes in protobuf.
      if (contentType.startsWith('application/json')) response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      for (const wake of [...waiters]) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.after(close);
  return {
    url,
    exports,
    spans,
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(spans)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...spans]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver did not get the expected spans within ${timeoutMs} ms; it has: ${spans.map((span) => span.name).join(', ') || 'none'}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close,
  };
}
