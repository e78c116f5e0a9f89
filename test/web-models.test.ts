// Models whose parameters live only in model.safetensors load and run in the page as in Node: a learned decoder
// σ (samples x ~ N(μ(z), σ²) drawn with the same seed agree to 1e-5) and a VQ-VAE's codebook (reconstructions
// through the nearest codes agree to 1e-5). The page is the explorer, served by `vaekit serve`, in chromium.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loadModel } from '../src/io/model.js';
import { Rng } from '../src/rng.js';
import { scoreBatch, SCORER_DEFAULTS } from '../src/tasks/anomaly.js';
import { generate, reconstruct } from '../src/tasks/generate.js';
import { degrade, restoreImages } from '../src/tasks/restore/index.js';
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

  /** The page's requests: path, Range header, status. */
  type Req = { path: string; range?: string; status: number };
  const open = async (name: string): Promise<{ s: Served; page: Page; requests: Req[] }> => {
    const s = await startServe([fixture(name), '--port', '0', '--examples', '0']);
    const page = await browser.newPage();
    const requests: Req[] = [];
    page.on('response', (r) =>
      requests.push({ path: new URL(r.url()).pathname, range: r.request().headers().range, status: r.status() }),
    );
    await page.goto(`${s.url}/?backend=cpu` /* the 1e-5 equality with Node: tfjs-cpu */);
    await page.waitForFunction(
      () => /^(ready|a vqvae|error)/.test(document.getElementById('status')!.textContent ?? ''),
      null,
      {
        timeout: 120_000,
      },
    );
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /^error/);
    return { s, page, requests };
  };

  it('the page loads the tfjs networks, and from model.safetensors only the learned σ (Range requests)', async () => {
    const { s, page, requests } = await open('vae-gauss');
    try {
      const source = await page.evaluate(() => (window as any).explorer.source);
      assert.equal(source.networks, 'tfjs');
      assert.deepEqual(source.parameters, ['decoder.log_var']);
      for (const net of ['encoder', 'decoder'])
        for (const f of ['model.json', 'weights.bin'])
          assert.ok(
            requests.some((r) => r.path === `/model/tfjs/${net}/${f}` && r.status === 200),
            `the page fetched tfjs/${net}/${f}`,
          );
      const st = requests.filter((r) => r.path === '/model/model.safetensors');
      assert.equal(st.length, 3, 'the length field, the header, decoder.log_var');
      assert.ok(
        st.every((r) => r.status === 206 && /^bytes=\d+-\d+$/.test(r.range ?? '')),
        JSON.stringify(st),
      );
    } finally {
      await page.close();
      await s.stop();
    }
  });

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

  it('the anomaly scores (with the corrected score) and restoration run in the page as in Node', async () => {
    const { s, page } = await open('vae-gauss');
    try {
      const x1 = x.slice(0, 784);
      const sp = await page.evaluate((xx) => (window as any).explorer.scoreInPage(xx, 2, 4), x);
      const { model } = await loadModel(fixture('vae-gauss'));
      const sn = await scoreBatch(
        model,
        { x: Float32Array.from(x), n: 2, shape: [28, 28, 1] },
        { ...SCORER_DEFAULTS, rng: new Rng(SCORER_DEFAULTS.seed), k: 4 },
      );
      for (const key of ['negElbo', 'nll', 'corrected'] as const)
        sp[key].forEach((v: number, i: number) =>
          assert.ok(
            Math.abs(v - sn[key]![i]) <= 1e-4 * Math.max(1, Math.abs(v)),
            `${key}[${i}]: ${v} vs ${sn[key]![i]}`,
          ),
        );
      const mask = Array.from({ length: 784 }, (_, i) => (i < 392 ? 1 : 0));
      for (const method of ['naive', 'map'] as const) {
        const rp = await page.evaluate(([xx, m, me]) => (window as any).explorer.restoreInPage(xx, m, me, 3), [
          x1,
          mask,
          method,
        ] as const);
        const deg = degrade(Float32Array.from(x1), 1, [28, 28, 1], {
          task: 'inpaint',
          mask: { kind: 'user', name: 'm', values: mask },
        });
        const rn = restoreImages(model, deg, { method, seed: 3, samples: 4, restarts: 2, steps: 20 });
        assert.ok(maxAbsDiff(rp.x, rn.x) <= 1e-4, `${method}: x ${maxAbsDiff(rp.x, rn.x)}`);
        assert.ok(maxAbsDiff(rp.uncertainty, rn.uncertainty) <= 1e-4, `${method}: uncertainty`);
      }
      model.dispose();
    } finally {
      await page.close();
      await s.stop();
    }
  });
});
