// Output locations that cannot be created or written fail at once, and the error names the user's path and
// the cause (missing folder, read-only, no space, is a directory), never a hidden temp file.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDir, ensureDirSync, writeDirAtomic, writeFileAtomic, writeFileAtomicSync } from '../src/util/atomic.js';
import { appendFileChecked, OutputError } from '../src/util/fs-errors.js';

const created: string[] = [];
const mounted: string[] = [];
after(() => {
  for (const m of mounted) spawnSync('umount', [m]);
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vaekit-output-errors-'));
  created.push(d);
  return d;
}

/** A tmpfs mounted at a fresh folder with `opts` (e.g. 'ro' or 'size=64k'), or undefined when mounting is not allowed. */
function tmpfs(opts: string): string | undefined {
  const d = tmpdir();
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', d], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  mounted.push(d);
  return d;
}

/** Asserts `p` rejects with a one-line OutputError matching `re` that does not mention a temp file. */
async function rejectsClean(p: Promise<unknown> | (() => unknown), re: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof OutputError, `expected an OutputError, got ${String(err)}`);
  assert.match(err.message, re);
  assert.doesNotMatch(err.message, /\.tmp-|ENOENT|EROFS|ENOSPC|EISDIR/);
  assert.ok(!err.message.includes('\n'), 'one line');
}

it('a folder under /proc fails at once instead of spinning', { timeout: 20_000 }, async () => {
  await rejectsClean(
    () => ensureDirSync('/proc/vaekit-run'),
    /^cannot create the folder \/proc\/vaekit-run: \/proc does not allow/,
  );
  await rejectsClean(
    ensureDir('/proc/vaekit-trav/a/b'),
    /^cannot create the folder \/proc\/vaekit-trav\/a\/b: \/proc does not allow/,
  );
  await rejectsClean(
    writeDirAtomic('/proc/vaekit-run/model', { 'a.json': '{}' }),
    /^cannot create the folder \/proc\/vaekit-run: \/proc does not allow/,
  );
  await rejectsClean(
    writeFileAtomic('/proc/x.png', 'x'),
    /^cannot write \/proc\/x\.png: \/proc does not allow creating files/,
  );
});

it('a missing folder is named; nested folders are created by ensureDir', async () => {
  const root = tmpdir();
  const target = path.join(root, 'nodir', 'sub', 'x.png');
  await rejectsClean(
    writeFileAtomic(target, 'x'),
    new RegExp(`^cannot write ${target}: the folder ${root}/nodir does not exist$`),
  );
  await rejectsClean(() => writeFileAtomicSync(target, 'x'), /the folder .*\/nodir does not exist$/);
  await rejectsClean(() => appendFileChecked(target, 'x'), /the folder .*\/nodir does not exist$/);
  assert.deepEqual(fs.readdirSync(root), []);
  await ensureDir(path.join(root, 'a', 'b', 'c'));
  ensureDirSync(path.join(root, 'a', 'b', 'c')); // exists: nothing to do
  assert.ok(fs.statSync(path.join(root, 'a', 'b', 'c')).isDirectory());
});

it('an existing directory or a file in the way is named', async () => {
  const root = tmpdir();
  fs.mkdirSync(path.join(root, 'out'));
  await rejectsClean(writeFileAtomic(path.join(root, 'out'), 'x'), /out: it is a directory$/);
  await rejectsClean(() => writeFileAtomicSync(path.join(root, 'out'), 'x'), /out: it is a directory$/);
  assert.deepEqual(fs.readdirSync(root), ['out']);
  fs.writeFileSync(path.join(root, 'f'), 'x');
  await rejectsClean(() => ensureDirSync(path.join(root, 'f')), /f: it exists and is a file$/);
  await rejectsClean(ensureDir(path.join(root, 'f', 'g')), /f\/g: .*\/f is a file, not a folder$/);
  await rejectsClean(writeFileAtomic(path.join(root, 'f', 'x.png'), 'x'), /x\.png: .*\/f is a file, not a folder$/);
  await rejectsClean(writeDirAtomic(path.join(root, 'f'), { a: 'b' }), /f: it exists and is a file, not a folder$/);
});

it('a read-only file system is named as such', async (t) => {
  const ro = tmpfs('ro,size=1m');
  if (!ro) return t.skip('mount -t tmpfs -o ro is not allowed here (needs root)');
  await rejectsClean(writeFileAtomic(path.join(ro, 'x.png'), 'x'), /x\.png: the file system is read-only$/);
  await rejectsClean(() => ensureDirSync(path.join(ro, 'run')), /run: the file system is read-only$/);
  await rejectsClean(writeDirAtomic(path.join(ro, 'run', 'model'), { a: 'b' }), /the file system is read-only$/);
});

it('a full disk is named, with the path, and leaves no temp file', async (t) => {
  const full = tmpfs('size=64k');
  if (!full) return t.skip('mount -t tmpfs is not allowed here (needs root)');
  const big = new Uint8Array(1 << 20);
  await rejectsClean(writeFileAtomic(path.join(full, 'big.bin'), big), /big\.bin: no space left on the device$/);
  await rejectsClean(writeDirAtomic(path.join(full, 'model'), { 'w.bin': big }), /model: no space left on the device$/);
  await rejectsClean(
    () => appendFileChecked(path.join(full, 'm.jsonl'), 'x'.repeat(1 << 20)),
    /m\.jsonl: no space left/,
  );
  fs.rmSync(path.join(full, 'm.jsonl'), { force: true });
  assert.deepEqual(fs.readdirSync(full), []);
});
