/**
 * The production entry (`node dist/taskgate.mjs`): turns on Node's module compile cache
 * where the runtime has it (Node ≥ 22: V8's compiled code of the server bundle is kept in
 * the temp directory, so later starts skip compiling ~2.8 MB of JavaScript; BENCHMARKS.md, "Start-up"),
 * then loads the server and starts it. A module cannot cache its own compilation: that is
 * why this small file stands in front of the bundle (dist/taskgate-server.mjs).
 */
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { main } = await import('./server.js');
await main();
