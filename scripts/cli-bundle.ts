/**
 * The command line as one file (the package's `bin`): built by `npm run build` into
 * dist/taskgate-cli.mjs, and by the CLI tests into a temporary folder, so they run
 * exactly what ships.
 */
import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** Bundled CommonJS dependencies (undici) still call require(). */
export const REQUIRE_SHIM = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export async function bundleCli(outfile: string): Promise<void> {
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: `#!/usr/bin/env node\n${REQUIRE_SHIM}` },
    legalComments: 'none',
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
  // Runnable as ./dist/taskgate-cli.mjs too, not only through npm's bin link.
  await chmod(outfile, 0o755);
}
