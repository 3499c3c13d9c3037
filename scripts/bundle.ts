/**
 * npm run build, second step: bundle the production server into one file,
 * dist/taskgate-server.mjs, behind the entry dist/taskgate.mjs (src/launch.ts: it turns on
 * Node's compile cache, which cannot cover the module that turns it on), and the command
 * line into another, dist/taskgate-cli.mjs (the package's `bin`, see cli-bundle.ts).
 * Start-up is dominated by resolving and compiling a few hundred module files (~380 ms
 * of module loading, measured); one file cuts most of that. @fastify/swagger-ui
 * stays external because it serves its static files from its own package folder (and is
 * loaded at the first /docs request). The OpenTelemetry SDK (src/tracing/sdk.ts, imported
 * only when tracing is on) is a bundle of its own, dist/tracing-sdk.mjs, so tracing off
 * never loads or even parses it. The S3 archive's store (src/archive/s3-store.ts, with the
 * AWS SDK) is one too, dist/archive-s3.mjs, loaded only when TASKGATE_ARCHIVE is an s3://
 * URL. The Lua scripts of fleet mode (each `scripts/*.lua` under src) are inlined into the
 * server bundle, so the image needs no file beside them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { bundleCli, REQUIRE_SHIM } from './cli-bundle.js';
import { copyRuntimeDependencies } from './runtime-deps.js';

/** Packages the bundle loads from node_modules at run time (see the header). */
export const EXTERNAL_PACKAGES = ['@fastify/swagger-ui'];

/**
 * Node's built-in modules through `require`, not `import`: an ESM import of a built-in
 * builds its module facade from every export, which runs the lazy getters behind them
 * (on Node 24 `node:http` then loads Node's own undici and `node:crypto` its WebCrypto:
 * ~130 ms of a ~450 ms start-up, BENCHMARKS.md "Start-up"). `require` reads only what is used.
 */
/** The gateway's `undici` imports resolve to the parts it uses (src/fast/undici-core.cjs says why). */
const undiciCore: Plugin = {
  name: 'undici-core',
  setup(plugin) {
    const core = fileURLToPath(new URL('../src/fast/undici-core.cjs', import.meta.url));
    plugin.onResolve({ filter: /^undici$/ }, (args) => (args.importer.includes('/node_modules/') ? undefined : { path: core }));
  },
};

/**
 * src/fleet/lua-source.ts reads `src/<path>.lua` from disk; in the bundle it is a table of
 * every script under src/, read now.
 */
const luaInline: Plugin = {
  name: 'lua-inline',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]src[\\/]fleet[\\/]lua-source\.ts$/ }, () => {
      const scripts: Record<string, string> = {};
      for (const file of readdirSync('src', { recursive: true, encoding: 'utf8' })) {
        if (!file.endsWith('.lua')) continue;
        scripts[file.split('\\').join('/').slice(0, -'.lua'.length)] = readFileSync(join('src', file), 'utf8');
      }
      const contents = [
        `const SCRIPTS = ${JSON.stringify(scripts)};`,
        'export function luaSource(path) {',
        '  const text = SCRIPTS[path];',
        "  if (text === undefined) throw new Error('No Lua script src/' + path + '.lua was bundled');",
        '  return text;',
        '}',
      ].join('\n');
      return { contents, loader: 'js' };
    });
  },
};

const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(plugin) {
    plugin.onResolve({ filter: /^node:/ }, (args) =>
      args.namespace === 'builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin' },
    );
    plugin.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

await build({
  entryPoints: ['src/server.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/taskgate-server.mjs',
  external: EXTERNAL_PACKAGES,
  plugins: [
    builtinsThroughRequire,
    undiciCore,
    luaInline,
    {
      name: 'tracing-sdk-apart',
      setup(plugin) {
        plugin.onResolve({ filter: /^\.\/sdk\.js$/ }, (args) =>
          args.importer.endsWith(join('src', 'tracing', 'tracer.ts')) ? { path: './tracing-sdk.mjs', external: true } : undefined,
        );
      },
    },
    {
      name: 'archive-s3-apart',
      setup(plugin) {
        plugin.onResolve({ filter: /^\.\/s3-store\.js$/ }, (args) =>
          args.importer.endsWith(join('src', 'archive', 'open-store.ts')) ? { path: './archive-s3.mjs', external: true } : undefined,
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
console.log('bundled dist/taskgate-server.mjs');

await build({
  entryPoints: ['src/launch.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/taskgate.mjs',
  plugins: [
    {
      name: 'server-bundle',
      setup(plugin) {
        plugin.onResolve({ filter: /^\.\/server\.js$/ }, () => ({ path: './taskgate-server.mjs', external: true }));
      },
    },
  ],
  legalComments: 'none',
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

await build({
  entryPoints: ['src/archive/s3-store.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: 'dist/archive-s3.mjs',
  banner: { js: REQUIRE_SHIM },
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
console.log('bundled dist/archive-s3.mjs');

await bundleCli('dist/taskgate-cli.mjs');
console.log('bundled dist/taskgate-cli.mjs');
