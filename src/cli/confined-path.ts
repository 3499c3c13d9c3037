/**
 * Where `taskgate mcp` may save files: inside one folder (`--dir`), never outside it,
 * whatever the path an agent gives says (`..`, an absolute path elsewhere) or a symbolic
 * link inside the folder points at.
 */
import { lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { partPath, recordPath } from './download.js';
import { CliError, EXIT, usageError } from './errors.js';

function isWithin(root: string, candidate: string): boolean {
  const inside = relative(root, candidate);
  return inside === '' || (!isAbsolute(inside) && inside !== '..' && !inside.startsWith(`..${sep}`));
}

function refused(path: string, root: string, reason: string): CliError {
  return new CliError(EXIT.usage, 'path_outside_folder', `${path} ${reason}: files are saved inside ${root} only; give a path inside it`);
}

/** `--dir` as a real path (its symbolic links resolved), which must be an existing folder. */
export async function downloadFolder(path: string): Promise<string> {
  const folder = await realpath(path).catch(() => undefined);
  if (folder === undefined || !(await stat(folder)).isDirectory()) throw usageError(`--dir must be an existing folder, got "${path}"`);
  return folder;
}

/** The nearest folder of `path` that exists, as a real path; undefined when it cannot be resolved. */
async function nearestRealFolder(path: string): Promise<string | undefined> {
  let existing = path;
  while ((await lstat(existing).catch(() => undefined)) === undefined) existing = dirname(existing);
  return realpath(existing).catch(() => undefined);
}

/**
 * The file `path` names inside `root` (a real path), with the folders it needs made; a
 * path that lands outside `root`, or goes through a link that does, is refused. The part
 * files a download writes beside it must not be links either: they are written through.
 */
export async function confinedFile(root: string, path: string): Promise<string> {
  if (path.includes('\0')) throw new CliError(EXIT.usage, 'invalid_request', 'path must not contain a NUL character');
  const target = resolve(root, path);
  if (!isWithin(root, target)) throw refused(path, root, 'is outside the download folder');
  if (target === root) throw new CliError(EXIT.usage, 'invalid_request', `${path} is the download folder itself; give a file path inside it`);
  const parent = dirname(target);
  const existing = await nearestRealFolder(parent);
  if (existing === undefined || !isWithin(root, existing)) throw refused(path, root, 'goes through a link that leads outside the download folder');
  await mkdir(parent, { recursive: true });
  // Again once the folders exist: a link may have appeared on the way.
  const realParent = await realpath(parent);
  if (!isWithin(root, realParent)) throw refused(path, root, 'goes through a link that leads outside the download folder');
  const file = join(realParent, basename(target));
  for (const candidate of [file, partPath(file), recordPath(file)]) {
    const found = await lstat(candidate).catch(() => undefined);
    if (found?.isSymbolicLink() === true) throw refused(path, root, `is a link (${basename(candidate)})`);
    if (found?.isDirectory() === true) throw new CliError(EXIT.usage, 'invalid_request', `${path} is a folder; give a file path inside it`);
  }
  return file;
}
