import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  readJson,
  readJsonSync,
  recoverDir,
  writeDirAtomic,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
} from '../src/util/atomic.js';

const created: string[] = [];
after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vaekit-io-atomic-'));
  created.push(d);
  return d;
}

function ls(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Snapshot of a directory: relative path → content. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out[r] = fs.readFileSync(path.join(d, e.name), 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid && r.pid > 0);
  return r.pid!;
}

it('writeFileAtomic writes, overwrites and leaves no temp files', async () => {
  const dir = tmpdir();
  const f = path.join(dir, 'a.txt');
  await writeFileAtomic(f, 'one');
  assert.equal(fs.readFileSync(f, 'utf8'), 'one');
  await writeFileAtomic(f, new Uint8Array([0x74, 0x77, 0x6f]));
  assert.equal(fs.readFileSync(f, 'utf8'), 'two');
  writeFileAtomicSync(f, 'three');
  assert.equal(fs.readFileSync(f, 'utf8'), 'three');
  await writeJsonAtomic(path.join(dir, 'b.json'), { x: 1 });
  assert.deepEqual(await readJson(path.join(dir, 'b.json')), { x: 1 });
  assert.deepEqual(ls(dir), ['a.txt', 'b.json']);
});

it('writeFileAtomic removes its temp file when the final rename fails', async () => {
  const dir = tmpdir();
  const target = path.join(dir, 'target');
  fs.mkdirSync(target); // renaming a file over a directory fails after the temp file is written
  fs.writeFileSync(path.join(target, 'keep'), 'x');
  await assert.rejects(writeFileAtomic(target, 'data'));
  assert.throws(() => writeFileAtomicSync(target, 'data'));
  assert.deepEqual(ls(dir), ['target']);
  assert.deepEqual(ls(target), ['keep']);
  // Missing parent directory: fails cleanly too.
  await assert.rejects(writeFileAtomic(path.join(dir, 'nope', 'f'), 'x'), /the folder .*nope does not exist/);
  assert.deepEqual(ls(dir), ['target']);
});

it('writeDirAtomic writes a directory, replaces it wholesale and leaves nothing behind', async () => {
  const root = tmpdir();
  const d = path.join(root, 'sub', 'model');
  await writeDirAtomic(d, { 'model.json': '{"v":1}', 'weights/w.bin': new Uint8Array([1, 2, 3]), old: 'gone soon' });
  assert.deepEqual(ls(d), ['model.json', 'old', 'weights']);
  assert.deepEqual([...fs.readFileSync(path.join(d, 'weights', 'w.bin'))], [1, 2, 3]);
  await writeDirAtomic(d, { 'model.json': '{"v":2}' });
  assert.deepEqual(snapshot(d), { 'model.json': '{"v":2}' });
  assert.deepEqual(ls(path.join(root, 'sub')), ['model']);
  await assert.rejects(writeDirAtomic(d, { '../escape': 'x' }), /invalid file name/);
  await assert.rejects(writeDirAtomic(d, { '/abs': 'x' }), /invalid file name/);
});

it('writeDirAtomic keeps the old directory readable until the swap', async () => {
  const root = tmpdir();
  const d = path.join(root, 'ckpt');
  await writeDirAtomic(d, { 'state.json': 'old', 'a.bin': 'A' });
  let seen: Record<string, string> | undefined;
  let tmpSeen: Record<string, string> | undefined;
  await writeDirAtomic(
    d,
    { 'state.json': 'new', 'b.bin': 'B' },
    {
      beforeSwap: (tmp) => {
        seen = snapshot(d);
        tmpSeen = snapshot(tmp);
        assert.match(path.basename(tmp), /^ckpt\.tmp-\d+-[0-9a-f]+$/);
      },
    },
  );
  assert.deepEqual(seen, { 'state.json': 'old', 'a.bin': 'A' });
  assert.deepEqual(tmpSeen, { 'state.json': 'new', 'b.bin': 'B' });
  assert.deepEqual(snapshot(d), { 'state.json': 'new', 'b.bin': 'B' });
  assert.deepEqual(ls(root), ['ckpt']);
});

it('writeDirAtomic failure keeps the old directory and removes the temp directory', async () => {
  const root = tmpdir();
  const d = path.join(root, 'ckpt');
  await writeDirAtomic(d, { 'state.json': 'old' });
  // 'x' as a file and as a folder cannot both exist: fails half-way through writing.
  await assert.rejects(writeDirAtomic(d, { x: 'file', 'x/y': 'nested' }));
  assert.deepEqual(snapshot(d), { 'state.json': 'old' });
  assert.deepEqual(ls(root), ['ckpt']);
  await assert.rejects(
    writeDirAtomic(
      d,
      { 'state.json': 'new' },
      {
        beforeSwap: () => {
          throw new Error('boom');
        },
      },
    ),
    /boom/,
  );
  assert.deepEqual(snapshot(d), { 'state.json': 'old' });
  assert.deepEqual(ls(root), ['ckpt']);
  // A file where the directory should be is refused.
  fs.writeFileSync(path.join(root, 'file'), 'x');
  await assert.rejects(writeDirAtomic(path.join(root, 'file'), { a: 'b' }), /file, not a folder/);
  assert.deepEqual(ls(root), ['ckpt', 'file']);
});

it('recoverDir restores the backup after a crash between the two renames', async () => {
  const root = tmpdir();
  const d = path.join(root, 'ckpt');
  await writeDirAtomic(d, { 'state.json': 'old', 'w/x.bin': 'X' });
  const pid = deadPid();
  // State a writer that died mid-swap leaves: dir renamed to a backup, new content in a temp dir.
  const bak = path.join(root, `ckpt.bak-${Date.now()}-${pid}-0badc0de`);
  fs.renameSync(d, bak);
  const tmp = path.join(root, `ckpt.tmp-${pid}-deadbeef`);
  fs.mkdirSync(tmp);
  fs.writeFileSync(path.join(tmp, 'state.json'), 'new-but-unconfirmed');
  // An older backup too (a second crash long ago) and an unrelated sibling that must stay.
  const older = path.join(root, `ckpt.bak-1000-${pid}-00000001`);
  fs.mkdirSync(older);
  fs.mkdirSync(path.join(root, 'ckpt.other'));

  const r = await recoverDir(d);
  assert.equal(r.restored, bak);
  assert.deepEqual(r.removed.sort(), [older, tmp].sort());
  assert.deepEqual(snapshot(d), { 'state.json': 'old', 'w/x.bin': 'X' });
  assert.deepEqual(ls(root), ['ckpt', 'ckpt.other']);

  // Nothing to do now; and a fresh writeDirAtomic works.
  assert.deepEqual(await recoverDir(d), { removed: [] });
  await writeDirAtomic(d, { 'state.json': 'new' });
  assert.deepEqual(snapshot(d), { 'state.json': 'new' });

  // Crash after the second rename: backup left next to the new dir → removed, dir untouched.
  const bak2 = path.join(root, `ckpt.bak-${Date.now()}-${pid}-00000002`);
  fs.mkdirSync(bak2);
  const r2 = await recoverDir(d);
  assert.equal(r2.restored, undefined);
  assert.deepEqual(r2.removed, [bak2]);
  assert.deepEqual(snapshot(d), { 'state.json': 'new' });

  // Missing parent / never written: harmless.
  assert.deepEqual(await recoverDir(path.join(root, 'nope', 'x')), { removed: [] });
});

it('recoverDir leaves a live writer alone; writeDirAtomic recovers before writing', async () => {
  const root = tmpdir();
  const d = path.join(root, 'm');
  const live = process.ppid; // alive: the process that started this test
  const liveBak = path.join(root, `m.bak-${Date.now()}-${live}-0000000a`);
  const liveTmp = path.join(root, `m.tmp-${live}-0000000b`);
  fs.mkdirSync(liveBak);
  fs.mkdirSync(liveTmp);
  const r = await recoverDir(d);
  assert.deepEqual(r, { removed: [] });
  assert.deepEqual(ls(root), [path.basename(liveBak), path.basename(liveTmp)]);
  fs.rmSync(liveBak, { recursive: true });
  fs.rmSync(liveTmp, { recursive: true });

  // writeDirAtomic itself repairs a crashed state before writing.
  const pid = deadPid();
  const crashed = path.join(root, `m.bak-${Date.now()}-${pid}-0000000c`);
  fs.mkdirSync(crashed);
  fs.writeFileSync(path.join(crashed, 'f'), 'old');
  await writeDirAtomic(d, { f: 'new' });
  assert.deepEqual(snapshot(d), { f: 'new' });
  assert.deepEqual(ls(root), ['m']);
});

it('readJson names the file when it is missing or malformed', async () => {
  const dir = tmpdir();
  const missing = path.join(dir, 'config.json');
  await assert.rejects(readJson(missing, 'model config'), (e: Error) => {
    assert.match(e.message, /model config not found/);
    assert.ok(e.message.includes(missing));
    return true;
  });
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{"a": 1,');
  await assert.rejects(readJson(bad, 'checkpoint state'), (e: Error) => {
    assert.match(e.message, /checkpoint state at .*bad\.json is not valid JSON/);
    return true;
  });
  assert.throws(() => readJsonSync(bad), /JSON file at .*bad\.json is not valid JSON/);
  await assert.rejects(readJson(dir, 'config'), /is a directory/);
  fs.writeFileSync(path.join(dir, 'ok.json'), '[1,2]');
  assert.deepEqual(readJsonSync<number[]>(path.join(dir, 'ok.json')), [1, 2]);
});

it('writeDirAtomic + recoverDir: a writer killed at random points never leaves a torn directory', async () => {
  const root = tmpdir();
  const d = path.join(root, 'ckpt');
  const atomicTs = fileURLToPath(new URL('../src/util/atomic.ts', import.meta.url));
  const script = path.join(root, 'writer.mts');
  fs.writeFileSync(
    script,
    `import { writeDirAtomic } from ${JSON.stringify(atomicTs)};
const dir = process.argv[2];
const big = 'x'.repeat(200_000);
for (let gen = 0; ; gen++) {
  await writeDirAtomic(dir, { 'a.txt': 'gen ' + gen, 'sub/b.txt': 'gen ' + gen + big, 'c.txt': 'gen ' + gen });
  if (gen === 0) process.stdout.write('ready\\n');
}
`,
  );
  const kills = [20, 120]; // each kill costs a child start (~0.5 s); the crash states themselves are also built by hand above
  for (const ms of kills) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, d], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, ms));
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    await recoverDir(d);
    const snap = snapshot(d);
    assert.deepEqual(Object.keys(snap).sort(), ['a.txt', 'c.txt', 'sub/b.txt']);
    const gen = snap['a.txt'];
    assert.match(gen, /^gen \d+$/);
    assert.equal(snap['c.txt'], gen);
    assert.equal(snap['sub/b.txt'], gen + 'x'.repeat(200_000));
    assert.deepEqual(ls(root), ['ckpt', 'writer.mts']);
  }
});
