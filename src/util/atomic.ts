// Crash-safe file and directory writes.
//
// writeFileAtomic: temp file in the same directory → write → fsync → rename over the target →
// fsync the directory. Readers see the old file or the new one, never a torn one; the temp file is
// removed when anything fails.
//
// writeDirAtomic: a whole directory (a saved model, a checkpoint) is written into a sibling
// `<dir>.tmp-<pid>-<rand>`, every file and the directory fsynced, then swapped in with two renames:
//
//   1. rename <dir>            → <dir>.bak-<ms>-<pid>-<rand>   (only if <dir> exists)
//   2. rename <dir>.tmp-…      → <dir>
//   3. remove <dir>.bak-…
//
// A crash between 1 and 2 leaves <dir> missing and a complete backup next to it. recoverDir(dir)
// (called by every writeDirAtomic, and cheap enough for readers to call before reading) puts the
// newest such backup back, so readers again see the old complete directory. It also deletes
// leftovers of writers that are gone: `.tmp-` directories of dead processes and `.bak-` directories
// that are no longer needed. A backup or temp directory of a live process (another writer in the
// middle of its swap) is left alone. Two writers racing on the same directory are not supported:
// one of them fails on its final rename rather than mixing files.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ensureDir, errCode, outputError, OutputError } from './fs-errors.js';

export { ensureDir, ensureDirSync, OutputError } from './fs-errors.js';

export type FileData = string | Uint8Array;

function rand(): string {
  return randomBytes(4).toString('hex');
}

/** Refuse, before writing anything, a target that is an existing directory. */
function refuseDirectory(file: string, isDir: boolean | undefined): void {
  if (isDir) throw new OutputError(`cannot write ${file}: it is a directory`, file);
}

/** fsync a directory so that renames/creations inside it are durable. Best effort on platforms
 *  that cannot open directories (Windows). */
async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const c = errCode(e);
    if (c !== 'EISDIR' && c !== 'EPERM' && c !== 'EINVAL' && c !== 'EBADF') throw e;
  } finally {
    await fh?.close();
  }
}

function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const c = errCode(e);
    if (c !== 'EISDIR' && c !== 'EPERM' && c !== 'EINVAL' && c !== 'EBADF') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function writeAndSync(
  file: string,
  data: FileData | Iterable<FileData> | AsyncIterable<FileData>,
  flag: string,
): Promise<void> {
  const fh = await fsp.open(file, flag, 0o666);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for await (const piece of data) await fh.writeFile(piece); // each from where the last one ended
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write `data` to `file` atomically: readers see either the previous content or the new content.
 * The parent directory must exist. On failure the temp file is removed and an OutputError naming `file` and
 * the cause (missing folder, read-only, no space, is a directory) is thrown.
 */
export async function writeFileAtomic(file: string, data: FileData): Promise<void> {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.tmp-${process.pid}-${rand()}`);
  try {
    refuseDirectory(file, (await fsp.stat(abs).catch(() => undefined))?.isDirectory());
    await writeAndSync(tmp, data, 'wx');
    await fsp.rename(tmp, abs);
    await fsyncDir(dir);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw outputError(e, file);
  }
}

/**
 * writeFileAtomic of content made piece by piece (an iterable of strings or bytes, sync or async): only one piece
 * is in memory at a time, so a file larger than the heap can be written; the same temp-file-and-rename guarantees.
 */
export async function writeStreamAtomic(
  file: string,
  pieces: Iterable<FileData> | AsyncIterable<FileData>,
): Promise<void> {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.tmp-${process.pid}-${rand()}`);
  try {
    refuseDirectory(file, (await fsp.stat(abs).catch(() => undefined))?.isDirectory());
    await writeAndSync(tmp, pieces, 'wx');
    await fsp.rename(tmp, abs);
    await fsyncDir(dir);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw outputError(e, file);
  }
}

/** Synchronous writeFileAtomic, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(file: string, data: FileData): void {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.tmp-${process.pid}-${rand()}`);
  try {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs);
    } catch {
      st = undefined;
    }
    refuseDirectory(file, st?.isDirectory());
    const fd = fs.openSync(tmp, 'wx', 0o666);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, abs);
    fsyncDirSync(dir);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* keep the original error */
    }
    throw outputError(e, file);
  }
}

// ---------------------------------------------------------------------------------------------
// Directories

export interface WriteDirOptions {
  /** Called after the new content is completely written and synced into the temp directory and
   *  before the swap; the old directory is still in place and readable. For tests/progress. */
  beforeSwap?: (tmpDir: string) => void | Promise<void>;
}

/** Swaps in flight in this process (backup paths), so recoverDir never undoes our own swap. */
const ownInFlight = new Set<string>();
const ownTmpDirs = new Set<string>();

function checkRelName(name: string): string {
  const norm = path.posix.normalize(name.replace(/\\/g, '/'));
  if (
    name === '' ||
    path.isAbsolute(name) ||
    path.posix.isAbsolute(norm) ||
    norm === '.' ||
    norm === '..' ||
    norm.startsWith('../') ||
    norm.endsWith('/')
  ) {
    throw new Error(
      `writeDirAtomic: invalid file name ${JSON.stringify(name)} (must be a relative path inside the directory)`,
    );
  }
  return norm;
}

/**
 * Write a whole directory atomically: afterwards `dir` contains exactly `files` (keys are relative
 * paths, '/'-separated subfolders allowed). Readers that call recoverDir first see either the
 * previous complete directory or the new complete one. The parent of `dir` is created if needed.
 */
export async function writeDirAtomic(
  dir: string,
  files: Record<string, FileData>,
  opts: WriteDirOptions = {},
): Promise<void> {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  const names = Object.keys(files).map((k) => [k, checkRelName(k)] as const);
  await ensureDir(path.dirname(dir));
  let st: fs.Stats | undefined;
  try {
    await recoverDir(abs);
    st = await fsp.stat(abs).catch((e) => {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    });
  } catch (e) {
    throw outputError(e, dir, true);
  }
  if (st && !st.isDirectory()) throw new OutputError(`cannot write ${dir}: it exists and is a file, not a folder`, dir);

  const tmp = path.join(parent, `${base}.tmp-${process.pid}-${rand()}`);
  ownTmpDirs.add(tmp);
  try {
    await fsp.mkdir(tmp);
    const dirsToSync = new Set<string>([tmp]);
    for (const [key, rel] of names) {
      const target = path.join(tmp, ...rel.split('/'));
      const sub = path.dirname(target);
      if (sub !== tmp) {
        await fsp.mkdir(sub, { recursive: true });
        for (let d = sub; d !== tmp; d = path.dirname(d)) dirsToSync.add(d);
      }
      await writeAndSync(target, files[key], 'wx');
    }
    for (const d of dirsToSync) await fsyncDir(d);
    if (opts.beforeSwap) await opts.beforeSwap(tmp);
  } catch (e) {
    ownTmpDirs.delete(tmp);
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw outputError(e, dir, true);
  }

  // Swap.
  let bak: string | undefined;
  try {
    if (st) {
      bak = path.join(parent, `${base}.bak-${Date.now()}-${process.pid}-${rand()}`);
      ownInFlight.add(bak);
      await fsp.rename(abs, bak);
    }
    try {
      await fsp.rename(tmp, abs);
    } catch (e) {
      // Put the old directory back before giving up.
      if (bak) await fsp.rename(bak, abs).catch(() => {});
      throw e;
    }
    ownTmpDirs.delete(tmp);
    await fsyncDir(parent);
  } catch (e) {
    ownTmpDirs.delete(tmp);
    if (bak) ownInFlight.delete(bak);
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw outputError(e, dir, true);
  }
  if (bak) {
    try {
      await fsp.rm(bak, { recursive: true, force: true });
    } finally {
      ownInFlight.delete(bak);
    }
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM';
  }
}

interface Leftover {
  kind: 'tmp' | 'bak';
  full: string;
  pid: number;
  time: number; // ms since epoch for backups, 0 for temp dirs
}

function parseLeftover(parent: string, base: string, entry: string): Leftover | undefined {
  if (!entry.startsWith(base + '.')) return undefined;
  const rest = entry.slice(base.length + 1);
  let m = /^tmp-(\d+)-[0-9a-f]+$/.exec(rest);
  if (m) return { kind: 'tmp', full: path.join(parent, entry), pid: Number(m[1]), time: 0 };
  m = /^bak-(\d+)-(\d+)-[0-9a-f]+$/.exec(rest);
  if (m) return { kind: 'bak', full: path.join(parent, entry), pid: Number(m[2]), time: Number(m[1]) };
  return undefined;
}

/**
 * The backups `<dir>.bak-<ms>-<pid>-<rand>` a writeDirAtomic swap left next to `dir`, newest first (what
 * recoverDir would put back when `dir` is missing). Synchronous, for quick "is there anything" checks.
 */
export function listBackupsSync(dir: string): string[] {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  let entries: string[];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return [];
  }
  return entries
    .map((e) => parseLeftover(parent, path.basename(abs), e))
    .filter((l): l is Leftover => l !== undefined && l.kind === 'bak')
    .sort((a, b) => b.time - a.time)
    .map((l) => l.full);
}

export interface RecoverResult {
  /** The backup that was renamed back to `dir`, if any. */
  restored?: string;
  /** Leftover temp/backup directories that were deleted. */
  removed: string[];
}

/**
 * Repair the state a crashed writeDirAtomic can leave behind:
 * - `dir` missing and a backup `<dir>.bak-…` of a finished writer present → the newest backup is
 *   renamed back to `dir` (the old complete content);
 * - stale `<dir>.bak-…` (dir present) and `<dir>.tmp-…` of dead processes → deleted.
 * Leftovers of a live writer (its swap still in progress) are not touched. Safe to call any time,
 * also when nothing was ever written.
 */
export async function recoverDir(dir: string): Promise<RecoverResult> {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  const result: RecoverResult = { removed: [] };
  let entries: string[];
  try {
    entries = await fsp.readdir(parent);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return result;
    throw e;
  }
  const leftovers = entries.map((e) => parseLeftover(parent, base, e)).filter((l): l is Leftover => l !== undefined);
  if (leftovers.length === 0) return result;

  const stale = (l: Leftover): boolean =>
    l.kind === 'bak'
      ? l.pid === process.pid
        ? !ownInFlight.has(l.full)
        : !pidAlive(l.pid)
      : l.pid === process.pid
        ? !ownTmpDirs.has(l.full)
        : !pidAlive(l.pid);

  const exists = await fsp
    .stat(abs)
    .then(() => true)
    .catch((e) => {
      if (errCode(e) === 'ENOENT') return false;
      throw e;
    });

  const backups = leftovers.filter((l) => l.kind === 'bak' && stale(l)).sort((a, b) => b.time - a.time);
  if (!exists && backups.length > 0) {
    const newest = backups.shift()!;
    try {
      await fsp.rename(newest.full, abs);
      await fsyncDir(parent);
      result.restored = newest.full;
    } catch (e) {
      // Someone else restored or wrote it meanwhile; leave things as they are.
      if (errCode(e) !== 'ENOENT' && errCode(e) !== 'ENOTEMPTY' && errCode(e) !== 'EEXIST') throw e;
      return result;
    }
  }
  const toRemove = [...backups, ...leftovers.filter((l) => l.kind === 'tmp' && stale(l))];
  for (const l of toRemove) {
    await fsp.rm(l.full, { recursive: true, force: true });
    result.removed.push(l.full);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// JSON

function parseJsonText<T>(text: string, file: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what} at ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function readError(e: unknown, file: string, what: string): Error {
  const c = errCode(e);
  if (c === 'ENOENT') return new Error(`${what} not found: ${file} does not exist`);
  if (c === 'EISDIR') return new Error(`${what} at ${file} is a directory, expected a JSON file`);
  return new Error(`cannot read ${what} at ${file}: ${(e as Error).message}`);
}

/**
 * Read and parse a JSON file. `what` describes the file for error messages ("model config",
 * "checkpoint state"); errors name the file and say whether it is missing or malformed.
 */
export async function readJson<T = unknown>(file: string, what = 'JSON file'): Promise<T> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw readError(e, file, what);
  }
  return parseJsonText<T>(text, file, what);
}

/** Synchronous readJson. */
export function readJsonSync<T = unknown>(file: string, what = 'JSON file'): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw readError(e, file, what);
  }
  return parseJsonText<T>(text, file, what);
}

/** Pretty-printed JSON written with writeFileAtomic (trailing newline). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
