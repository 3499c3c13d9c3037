/**
 * The text of a Lua script kept in the source tree, `src/<path>.lua`. Read from disk when
 * running from sources; the production bundle replaces this module with one that holds
 * every script as a string (scripts/bundle.ts), so the image carries no .lua files.
 */
import { readFileSync } from 'node:fs';

export function luaSource(path: string): string {
  return readFileSync(new URL(`../${path}.lua`, import.meta.url), 'utf8');
}
