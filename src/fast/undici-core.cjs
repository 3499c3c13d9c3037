// Bypasses undici's index for its internal modules; buys 14-31 ms of 267-392 ms start-up (4-12% in three runs, compare.ts --path startup, 2026-12-07).
'use strict';
/**
 * What the server bundle takes of undici (scripts/bundle.ts points the gateway's own
 * `import … from 'undici'` here): its pools, agent and connector, and the `request` API
 * on every dispatcher, as undici's index sets it up. The index also loads fetch, WebSocket,
 * EventSource, cookies, caches and mocks, which the gateway never uses and whose loading
 * was ~50 ms of its start-up (BENCHMARKS.md, "Start-up"). Types still come from the package itself;
 * undici is pinned to an exact version, and test/fast/undici-core.test.ts checks that these
 * are undici's own objects and that every value the gateway imports from undici is here.
 */
const Dispatcher = require('undici/lib/dispatcher/dispatcher');

Object.assign(Dispatcher.prototype, require('undici/lib/api'));

module.exports = {
  Dispatcher,
  Pool: require('undici/lib/dispatcher/pool'),
  Agent: require('undici/lib/dispatcher/agent'),
  buildConnector: require('undici/lib/core/connect'),
};
