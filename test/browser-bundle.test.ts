// The browser entry (src/browser.ts) bundles for a browser: esbuild with platform 'browser' must resolve every
// import without a Node built-in, and nothing of the native backend or the Node backend selection comes in.
// The bundle then loads a saved model from its bytes and reconstructs the same as the Node path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadModel } from '../src/io/model.js';
import { reconstruct } from '../src/tasks/generate.js';
import { maxAbsDiff, setupBackend } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('browser entry', () => {
  it('bundles with platform browser: no node: import, no native backend', async () => {
    const r = await build({
      entryPoints: [path.join(root, 'src', 'browser.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    const nodeish = inputs.filter((f) => /^node:|backend\/(native|index)|src\/io\/|src\/cli\//.test(f));
    assert.deepEqual(nodeish, [], `the browser bundle pulls in ${nodeish.join(', ')}`);
    for (const out of r.outputFiles)
      assert.ok(!/\bfrom\s*["']node:|require\(["']node:/.test(out.text), 'a node: import');
    assert.ok(
      inputs.some((f) => f.includes('src/models/vae.ts')),
      'the models are in the bundle',
    );
  });

  it("a model loaded from its bytes reconstructs as the Node loader's does", async () => {
    await setupBackend();
    const { loadModelFromBuffers } = await import('../src/browser.js');
    const dir = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');
    const a = await loadModel(dir);
    const b = loadModelFromBuffers(
      readFileSync(path.join(dir, 'config.json'), 'utf8'),
      readFileSync(path.join(dir, 'model.safetensors')),
    );
    const x = new Float32Array(3 * 784).map((_, i) => ((i * 7919) % 13) / 12);
    assert.equal(maxAbsDiff(reconstruct(a.model, x, 3), reconstruct(b.model, x, 3)), 0);
    a.model.dispose();
    b.model.dispose();
  });
});
