/**
 * The command line as one file (the package's `bin`): built by `npm run build` into
 * dist/taskgate-cli.mjs, and by the CLI tests into a temporary folder, so they run
 * exactly what ships.
 */
import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ENTRY = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** Bundled CommonJS dependencies (undici) still call require(). */
export const REQUIRE_SHIM = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

const SOURCE = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * The gateway's own modules do nothing when imported but define things, so the CLI bundle
 * may leave out whatever the CLI does not use of them: it takes its environment from
 * src/config.ts (the one reader of process.env) without the server's settings, schemas
 * and provider registry behind that module's other exports.
 */
const SOURCE_WITHOUT_SIDE_EFFECTS: Plugin = {
  name: 'source-without-side-effects',
  setup(bundle) {
    const again = Symbol('resolved by esbuild itself');
    bundle.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === again) return undefined;
      const { kind, importer, resolveDir } = args;
      const resolved = await bundle.resolve(args.path, { kind, importer, resolveDir, pluginData: again });
      return resolved.path.startsWith(SOURCE) ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

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
    plugins: [SOURCE_WITHOUT_SIDE_EFFECTS],
  });
  // Runnable as ./dist/taskgate-cli.mjs too, not only through npm's bin link.
  await chmod(outfile, 0o755);
}
