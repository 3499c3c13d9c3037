/**
 * npm run openapi:write — regenerate openapi/openapi.json from the code.
 * npm run openapi:check — fail when the committed document differs from what the code serves.
 * npm run openapi:types — TypeScript types from the committed document, as a frontend would
 *   make them (openapi-typescript), for the generated-client test; run before test/typecheck.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { astToString, default as openapiTS } from 'openapi-typescript';
import { renderSpec, SPEC_PATH } from '../src/spec.js';

const CLIENT_TYPES_PATH = new URL('../test/client/generated/openapi.d.ts', import.meta.url);

const mode = process.argv[2];
if (mode === 'write') {
  await writeFile(SPEC_PATH, await renderSpec());
  console.log('wrote openapi/openapi.json');
} else if (mode === 'check') {
  const committed = await readFile(SPEC_PATH, 'utf8').catch(() => '');
  if (committed !== (await renderSpec())) {
    console.error('openapi/openapi.json is out of date: run `npm run openapi:write` and commit it.');
    process.exit(1);
  }
  console.log('openapi/openapi.json matches the code');
} else if (mode === 'types') {
  // The programmatic API, not the CLI: the CLI would lint with redocly.yaml's strict rules
  // and without its ignore file; linting is `npm run openapi:lint`'s job.
  const types = astToString(await openapiTS(SPEC_PATH, { silent: true }));
  await mkdir(new URL('.', CLIENT_TYPES_PATH), { recursive: true });
  await writeFile(CLIENT_TYPES_PATH, types);
} else {
  console.error('usage: tsx scripts/openapi.ts write|check|types');
  process.exit(2);
}
