/**
 * The OpenAPI document exactly as the gateway serves it, as text. Used by
 * `npm run openapi:write|check` and by the drift test; it does not depend on the
 * environment (the spec is the same whatever keys are configured).
 */
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

export const SPEC_PATH = new URL('../openapi/openapi.json', import.meta.url);

export async function renderSpec(): Promise<string> {
  const app = await buildApp(loadConfig({}), { logger: false });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
