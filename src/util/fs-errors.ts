// Output locations: creating folders without spinning, and errors that name the user's path and the cause.
//
// Node's `mkdir(p, { recursive: true })` loops forever when mkdir of a component answers ENOENT although its
// parent exists (/proc, some FUSE and network file systems), so folders are made here one component at a time.
// A failed write is reported as "cannot write <the path the user gave>: <cause>", never with the errno text of
// a hidden temp file.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** An output that cannot be written: `message` is one line naming the user's path and the cause. */
export class OutputError extends Error {
  readonly code: string | undefined;
  constructor(
    message: string,
    readonly target: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'OutputError';
    this.code = errCode(cause);
  }
}

type Stat = { isDirectory(): boolean } | undefined;

function statSync(p: string): Stat {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** The top-most missing folder on the way to `dir` (as the user spelt it), or undefined when `dir` exists. */
function firstMissing(dir: string): string | undefined {
  let missing: string | undefined;
  for (let d = dir; ; d = path.dirname(d)) {
    if (statSync(d)) return missing;
    missing = d;
    if (path.dirname(d) === d) return missing;
  }
}

/** The nearest component on the way to `p` that exists and is not a folder. */
function fileInTheWay(p: string): string | undefined {
  for (let d = path.dirname(p); path.dirname(d) !== d; d = path.dirname(d)) {
    const st = statSync(d);
    if (st) return st.isDirectory() ? undefined : d;
  }
  return undefined;
}

/** Why writing `target` (a file, or a folder when `isDir`) failed, in words. */
export function writeCause(e: unknown, target: string, isDir = false): string {
  const parent = path.dirname(target);
  switch (errCode(e)) {
    case 'ENOENT': {
      const missing = firstMissing(parent);
      if (missing !== undefined) return `the folder ${missing} does not exist`;
      return `${parent} does not allow creating ${isDir ? 'folders' : 'files'} in it`;
    }
    case 'ENOTDIR': {
      const file = fileInTheWay(isDir ? path.join(target, 'x') : target);
      return file !== undefined ? `${file} is a file, not a folder` : 'a part of the path is not a folder';
    }
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'the disk quota is exceeded';
    case 'EISDIR':
      return 'it is a directory';
    case 'EEXIST':
      return isDir ? 'it exists and is not a folder' : 'it already exists';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${parent} cannot be written to)`;
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'EFBIG':
      return 'the file is too large for the file system';
    case 'EIO':
      return 'an input/output error on the device';
    default: {
      const code = errCode(e);
      // Node's errno messages read "CODE: text, syscall 'path'": keep the text, drop the (temp) path.
      const text = e instanceof Error ? e.message.replace(/,\s*\w+\s+'[^']*'(\s*->\s*'[^']*')?$/, '') : String(e);
      return code && !text.startsWith(code) ? `${code}: ${text}` : text;
    }
  }
}

/** The OutputError for a failed write of `target` (already an OutputError: returned as it is). */
export function outputError(e: unknown, target: string, isDir = false): Error {
  if (e instanceof OutputError) return e;
  if (errCode(e) === undefined) return e instanceof Error ? e : new Error(String(e));
  return new OutputError(`cannot write ${target}: ${writeCause(e, target, isDir)}`, target, e);
}

function mkdirError(e: unknown, dir: string, component: string): OutputError {
  const cause =
    errCode(e) === 'ENOENT' && statSync(path.dirname(component))
      ? `${path.dirname(component)} does not allow creating folders in it`
      : errCode(e) === 'EEXIST'
        ? `${component} exists and is not a folder`
        : writeCause(e, component, true);
  return new OutputError(`cannot create the folder ${dir}: ${cause}`, dir, e);
}

/** The components of `dir` to create, top-most first (none when it exists); throws when one is a file. */
function missingComponents(dir: string, stat: (p: string) => Stat): string[] {
  const todo: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = stat(d);
    if (st) {
      if (!st.isDirectory())
        throw new OutputError(
          d === path.resolve(dir)
            ? `cannot create the folder ${dir}: it exists and is a file`
            : `cannot create the folder ${dir}: ${d} is a file, not a folder`,
          dir,
        );
      return todo.reverse();
    }
    todo.push(d);
    if (path.dirname(d) === d) return todo.reverse();
  }
}

/**
 * Create the folder `dir` and any missing parents (`mkdir -p`), one component at a time, so that a location
 * that cannot be created fails at once. Errors are OutputErrors naming `dir` and the cause.
 */
export function ensureDirSync(dir: string): void {
  for (const d of missingComponents(dir, statSync)) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if (errCode(e) === 'EEXIST' && statSync(d)?.isDirectory()) continue; // made meanwhile
      throw mkdirError(e, dir, d);
    }
  }
}

/** Async ensureDirSync. */
export async function ensureDir(dir: string): Promise<void> {
  for (const d of missingComponents(dir, statSync)) {
    try {
      await fsp.mkdir(d);
    } catch (e) {
      if (errCode(e) === 'EEXIST' && statSync(d)?.isDirectory()) continue;
      throw mkdirError(e, dir, d);
    }
  }
}

/** appendFileSync with the error naming `file` and the cause. */
export function appendFileChecked(file: string, data: string): void {
  try {
    fs.appendFileSync(file, data);
  } catch (e) {
    throw outputError(e, file);
  }
}
