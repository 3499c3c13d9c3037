/**
 * npm run openapi:write — regenerate openapi/openapi.json from the code.
 * npm run openapi:check — fail when the committed document differs from what the code serves.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { renderSpec, SPEC_PATH } from '../src/spec.js';

const mode = process.argv[2];
const generated = await renderSpec();
if (mode === 'write') {
  await writeFile(SPEC_PATH, generated);
  console.log('wrote openapi/openapi.json');
} else if (mode === 'check') {
  const committed = await readFile(SPEC_PATH, 'utf8').catch(() => '');
  if (committed !== generated) {
    console.error('openapi/openapi.json is out of date: run `npm run openapi:write` and commit it.');
    process.exit(1);
  }
  console.log('openapi/openapi.json matches the code');
} else {
  console.error('usage: tsx scripts/openapi.ts write|check');
  process.exit(2);
}
