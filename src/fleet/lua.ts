/**
 * Lua scripts kept in their own files (`src/<folder>/scripts/<name>.lua`), each one
 * registered once per connection under its name (ioredis `defineCommand`: the script is
 * sent the first time, then only its SHA with EVALSHA), and each taking one argument, a
 * JSON table the script decodes (`local args = cjson.decode(ARGV[1])`), so arguments are
 * named rather than counted.
 *
 * A script that writes starts with `#!lua`, one that only reads with `#!lua
 * flags=no-writes` (Redis 7 script flags): without `allow-oom`, Redis refuses a writing
 * script as a whole while it is over `maxmemory` (and on a read-only replica) before it
 * runs, so no script writes past the limit however its writes are ordered.
 */
import { luaSource } from './lua-source.js';

/** What registering a script needs: the command name and the source. */
export interface NamedScript {
  readonly name: string;
  readonly lua: string;
}

export class LuaScript<Args extends object | undefined = undefined> implements NamedScript {
  private text: string | undefined;
  /** Phantom: the argument table's type, checked where the script is run. */
  declare readonly args: Args;

  /**
   * `name` is the command it is registered under; `path` is its file under src/ without
   * `.lua`, or `text` its source when it comes from a library.
   */
  constructor(
    readonly name: string,
    private readonly source: { path: string; helpers?: string } | { text: string },
  ) {}

  /** Read at first use: a gateway without REDIS_URL never reads a script. */
  get lua(): string {
    this.text ??= 'text' in this.source ? this.source.text : withHelpers(luaSource(this.source.path), this.source.helpers);
    return this.text;
  }

  /** ARGV for the argument table: one JSON string, or nothing. */
  argv(args: Args): string[] {
    return args === undefined ? [] : [JSON.stringify(args)];
  }
}

/** Functions several scripts share, put in after the script's `#!lua` line (which must stay first). */
function withHelpers(lua: string, helpers: string | undefined): string {
  if (helpers === undefined) return lua;
  const shared = luaSource(helpers);
  if (!lua.startsWith('#!')) return `${shared}\n${lua}`;
  const newline = lua.indexOf('\n');
  return `${lua.slice(0, newline + 1)}${shared}\n${lua.slice(newline + 1)}`;
}

/**
 * The script in `src/<folder>/scripts/<name>.lua`, registered as `<folder>.<name>`;
 * `helpers` names a file of the same folder whose functions it uses.
 */
export function luaScript<Args extends object | undefined = undefined>(folder: string, name: string, helpers?: string): LuaScript<Args> {
  return new LuaScript<Args>(`${folder}.${name}`, { path: `${folder}/scripts/${name}`, ...(helpers === undefined ? {} : { helpers: `${folder}/scripts/${helpers}` }) });
}
