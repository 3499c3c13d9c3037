/**
 * The committed OpenAPI document as a validator: any value checked against the schema at a
 * place in the spec, and any HTTP answer checked against what the spec says that operation
 * answers (status, media type, body), with ajv and the spec's own JSON Schema 2020-12.
 */
import { readFile } from 'node:fs/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { SPEC_PATH } from '../../src/spec.js';

/** A made-up base URI, only so the spec's own `#/components/…` refs resolve inside ajv. */
const SPEC_ID = 'https://taskgate.invalid/openapi.json';

interface OpenApiResponse {
  content?: Record<string, { schema?: unknown }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse> }>>;
  components: { schemas: Record<string, unknown> };
}

export interface ResponseUnderTest {
  method: string;
  /** The spec's path template, e.g. `/tasks/{id}`. */
  path: string;
  status: number;
  contentType: string | null;
  body: string;
}

function pointer(...segments: string[]): string {
  return '#/' + segments.map((segment) => segment.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

export class SpecValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  private constructor(readonly spec: OpenApiDocument) {
    // strictSchema off: the document around the schemas (paths, examples…) is not JSON Schema.
    this.ajv = new Ajv2020({ allErrors: true, strictSchema: false });
    // ajv-formats is CommonJS: under NodeNext its plugin is the module's `default`.
    formats.default(this.ajv);
    this.ajv.addSchema(spec, SPEC_ID);
  }

  static async load(): Promise<SpecValidator> {
    return new SpecValidator(JSON.parse(await readFile(SPEC_PATH, 'utf8')) as OpenApiDocument);
  }

  /** Validation errors of `value` against the schema at `at` (a JSON pointer into the spec); [] when valid. */
  errors(at: string, value: unknown): string[] {
    let validate = this.compiled.get(at);
    if (validate === undefined) {
      validate = this.ajv.compile({ $ref: `${SPEC_ID}${at}` });
      this.compiled.set(at, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
  }

  /** Errors of `value` against a named component, e.g. `Task`. */
  componentErrors(name: string, value: unknown): string[] {
    return this.errors(pointer('components', 'schemas', name), value);
  }

  /** Everything about one answer that the spec does not allow; [] when it conforms. */
  responseErrors(response: ResponseUnderTest): string[] {
    const method = response.method.toLowerCase();
    const documented = this.spec.paths[response.path]?.[method]?.responses[String(response.status)];
    const where = `${response.method} ${response.path} → ${response.status}`;
    if (documented === undefined) return [`${where} is not in the spec`];
    if (documented.content === undefined) {
      return response.body === '' ? [] : [`${where} has a body, but the spec documents none`];
    }
    const mediaType = (response.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (documented.content[mediaType] === undefined) {
      return [`${where} is ${mediaType || 'untyped'}; the spec says ${Object.keys(documented.content).join(' or ')}`];
    }
    if (!mediaType.endsWith('json')) return [];
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      return [`${where} is not JSON`];
    }
    const errors = this.errors(pointer('paths', response.path, method, 'responses', String(response.status), 'content', mediaType, 'schema'), body);
    return errors.map((error) => `${where}: ${error}`);
  }
}
