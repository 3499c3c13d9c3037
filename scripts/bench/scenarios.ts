/**
 * Every scenario of `npm run bench`, in the order they run and appear in BENCHMARKS.md.
 * A new scenario (fleet mode, webhooks, …) is one file exporting a `defineScenario(…)`
 * (see scenario.ts: how it runs, its summary rows, its section) and one line here.
 */
import { archiveScenario } from './archive.js';
import { budgetScenario } from './budget.js';
import { cachedScenario } from './cached.js';
import { contentScenario } from './content.js';
import { fleetScenario } from './fleet.js';
import { passthroughScenario } from './passthrough.js';
import type { ListedScenario } from './scenario.js';
import { startupScenario } from './startup.js';
import { stormScenario } from './storm.js';
import { waitersScenario } from './waiters.js';
import { webhooksScenario } from './webhooks.js';

export const SCENARIOS: readonly ListedScenario[] = [
  cachedScenario,
  passthroughScenario,
  contentScenario,
  stormScenario,
  waitersScenario,
  budgetScenario,
  startupScenario,
  fleetScenario,
  webhooksScenario,
  archiveScenario,
];
