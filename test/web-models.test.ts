// Models whose parameters live only in model.safetensors load and run in the page as in Node: a learned decoder
// σ (samples x ~ N(μ(z), σ²) drawn with the same seed agree to 1e-5) and a VQ-VAE's codebook (reconstructions
// through the nearest codes agree to 1e-5). The page is the explorer, served by `vaekit serve`, in chromium.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loadModel } from '../src/io/model.js';
import { Rng } from '../src/rng.js';
import { generate, reconstruct } from '../src/tasks/generate.js';
import { maxAbsDiff, setupBackend } from './helpers.js';
import { startServe, type Served } from './serve-helpers.js';
import { launchChromium, root } from './web-helpers.js';

const fixture = (name: string) => path.join(root, 'test', 'fixtures', 'models-v1', name);
const x = Array.from({ length: 2 * 784 }, (_, i) => ((i * 7919) % 13) / 12);

describe('models with parameters beyond the networks, in the page', () => {
  let browser: BrowserContext;
  before(async () => {
    await setupBackend();
    browser = await launchChromium();
  });
  after(() => browser?.close());

  const open = async (name: string): Promise<{ s: Served; page: Page }> => {
    const s = await startServe([fixture(name), '--port', '0', '--examples', '0']);
    const page = await browser.newPage();
    await page.goto(`${s.url}/?backend=cpu` /* the 1e-5 equality with Node: tfjs-cpu */);
    await page.waitForFunction(
      () => /^(ready|a vqvae|error)/.test(document.getElementById('status')!.textContent ?? ''),
      null,
      {
        timeout: 120_000,
      },
    );
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /^error/);
    return { s, page };
  };

  it('a learned decoder σ: samples of p(x|z) match Node', async () => {
    const { s, page } = await open('vae-gauss');
    try {
      const inPage: number[] = await page.evaluate(() => (window as any).explorer.sample(3, 11, true));
      const { model } = await loadModel(fixture('vae-gauss'));
      const inNode = generate(model, 3, new Rng(11), { sampleX: true });
      const means = generate(model, 3, new Rng(11));
      model.dispose();
      assert.ok(maxAbsDiff(inPage, inNode) <= 1e-5, `max diff ${maxAbsDiff(inPage, inNode)}`);
      assert.ok(maxAbsDiff(inNode, means) > 1e-3, 'the samples carry the noise of σ');
    } finally {
      await page.close();
      await s.stop();
    }
  });

  it("a VQ-VAE's codebook: reconstructions match Node", async () => {
    const { s, page } = await open('vqvae');
    try {
      const inPage: number[] = await page.evaluate((xx) => (window as any).explorer.reconstruct(xx), x);
      const { model } = await loadModel(fixture('vqvae'));
      const inNode = reconstruct(model, Float32Array.from(x), 2);
      model.dispose();
      assert.ok(maxAbsDiff(inPage, inNode) <= 1e-5, `max diff ${maxAbsDiff(inPage, inNode)}`);
    } finally {
      await page.close();
      await s.stop();
    }
  });
});
