'use strict';
/**
 * What the server bundle takes of undici (scripts/bundle.ts points the gateway's own
 * `import … from 'undici'` here): its pools, agent and connector, and the `request` API
 * on every dispatcher, as undici's index sets it up. The index also loads fetch, WebSocket,
 * EventSource, cookies, caches and mocks, which the gateway never uses and whose loading
 * was ~50 ms of its start-up (BENCHMARKS.md, "Start-up"). Types still come from the package itself.
 */
const Dispatcher = require('undici/lib/dispatcher/dispatcher');

Object.assign(Dispatcher.prototype, require('undici/lib/api'));

module.exports = {
  Dispatcher,
  Pool: require('undici/lib/dispatcher/pool'),
  Agent: require('undici/lib/dispatcher/agent'),
  buildConnector: require('undici/lib/core/connect'),
};
