/**
 * What the production bundle still loads from node_modules at run time (the packages it
 * leaves external), with their dependencies, copied into dist/runtime/node_modules: the
 * Docker image ships dist/taskgate.mjs and that folder, nothing else of node_modules.
 */
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Where `name` resolves from `fromDirectory`, the way Node finds it (nested first, then up). */
function packageDirectory(name: string, fromDirectory: string): string {
  for (let directory = fromDirectory; ; directory = dirname(directory)) {
    const candidate = join(directory, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(directory) === directory) throw new Error(`${name} is not installed (looked up from ${fromDirectory})`);
  }
}

/** Copies the dependency closure of `packages` (installed under `root`) into `target`/node_modules. */
export function copyRuntimeDependencies(packages: readonly string[], root: string, target: string): string[] {
  const copied = new Map<string, string>();
  const pending = packages.map((name) => ({ name, from: root }));
  while (pending.length > 0) {
    const { name, from } = pending.pop()!;
    const directory = packageDirectory(name, from);
    if (copied.has(directory)) continue;
    copied.set(directory, name);
    const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as PackageJson;
    const optional = new Set(Object.keys(manifest.optionalDependencies ?? {}));
    for (const dependency of [...Object.keys(manifest.dependencies ?? {}), ...optional]) {
      try {
        packageDirectory(dependency, directory);
      } catch (error) {
        if (optional.has(dependency)) continue;
        throw error;
      }
      pending.push({ name: dependency, from: directory });
    }
  }
  const modules = join(target, 'node_modules');
  rmSync(modules, { recursive: true, force: true });
  for (const directory of copied.keys()) {
    // Same place relative to the root as in the full install, so resolution finds it the same way.
    cpSync(directory, join(target, directory.slice(root.length)), { recursive: true });
  }
  return [...copied.values()].sort();
}
