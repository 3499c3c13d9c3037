/**
 * npm run build, second step: bundle the production server into one file,
 * dist/taskgate.mjs, and the command line into another, dist/taskgate-cli.mjs (the
 * package's `bin`, see cli-bundle.ts). Start-up is dominated by resolving and compiling a
 * few hundred module files (issue 6 measured ~380 ms of module loading); one file cuts
 * most of that. @fastify/swagger-ui stays external because it serves its static files
 * from its own package folder. The OpenTelemetry SDK (src/tracing/sdk.ts, imported only
 * when tracing is on) is a bundle of its own, dist/tracing-sdk.mjs, so tracing off never
 * loads or even parses it.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleCli, REQUIRE_SHIM } from './cli-bundle.js';
import { copyRuntimeDependencies } from './runtime-deps.js';

/** Packages the bundle loads from node_modules at run time (see the header). */
export const EXTERNAL_PACKAGES = ['@fastify/swagger-ui'];

await build({
  entryPoints: ['src/server.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/taskgate.mjs',
  external: EXTERNAL_PACKAGES,
  plugins: [
    {
      // Each provider's simulator profile (a dev tool, loaded lazily) stays out of the server bundle.
      name: 'no-simulators',
      setup(plugin) {
        plugin.onResolve({ filter: /\/simulator\.js$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
    {
      name: 'tracing-sdk-apart',
      setup(plugin) {
        plugin.onResolve({ filter: /^\.\/sdk\.js$/ }, (args) =>
          args.importer.endsWith(join('src', 'tracing', 'tracer.ts')) ? { path: './tracing-sdk.mjs', external: true } : undefined,
        );
      },
    },
  ],
  banner: { js: REQUIRE_SHIM },
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
console.log('bundled dist/taskgate.mjs');
const runtime = copyRuntimeDependencies(EXTERNAL_PACKAGES, process.cwd(), 'dist/runtime');
console.log(`dist/runtime/node_modules: ${runtime.length} packages the bundle loads at run time`);

await build({
  entryPoints: ['src/tracing/sdk.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/tracing-sdk.mjs',
  banner: { js: REQUIRE_SHIM },
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
console.log('bundled dist/tracing-sdk.mjs');

await bundleCli('dist/taskgate-cli.mjs');
console.log('bundled dist/taskgate-cli.mjs');
