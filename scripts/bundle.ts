/**
 * npm run build, second step: bundle the production server into one file,
 * dist/taskgate.mjs. Start-up is dominated by resolving and compiling a few hundred
 * module files (issue 6 measured ~380 ms of module loading); one file cuts most of that.
 * @fastify/swagger-ui stays external because it serves its static files from its own
 * package folder.
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['src/server.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/taskgate.mjs',
  external: ['@fastify/swagger-ui'],
  plugins: [
    {
      // Each provider's simulator profile (a dev tool, loaded lazily) stays out of the server bundle.
      name: 'no-simulators',
      setup(plugin) {
        plugin.onResolve({ filter: /\/simulator\.js$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
  // Bundled CommonJS dependencies still call require().
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
console.log('bundled dist/taskgate.mjs');
