// The explorer page in a real chromium (headless, fresh profile), served by `vaekit serve` started by its
// command: it loads the trained model, maps one point per test example, a slider changes the decoded image,
// the drawing canvas comes back reconstructed (and scored), and the page's decoder output equals Node's for
// the same z to 1e-5. Screenshots in test/artifacts/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loadModel } from '../src/io/model.js';
import { decodeLatent } from '../src/tasks/explore.js';
import { maxAbsDiff, setupBackend } from './helpers.js';
import { startServe, type Served } from './serve-helpers.js';
import { launchChromium, root } from './web-helpers.js';

const model = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');
const N = 120;
const shot = (name: string) => path.join(root, 'test', 'artifacts', name);

/** The pixels of a canvas, RGBA. */
const pixels = (page: Page, id: string) =>
  page.evaluate((el) => {
    const c = document.getElementById(el) as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  }, id);

describe('explorer page (chromium)', () => {
  let s: Served;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  before(async () => {
    await setupBackend();
    s = await startServe([model, '--port', '0', '--examples', String(N)]);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/`);
    await page.waitForFunction(
      () => /^(ready|error)/.test(document.getElementById('status')!.textContent ?? ''),
      null,
      {
        timeout: 120_000,
      },
    );
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('loads the model and maps one point per test example', async () => {
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^ready: vae with 4 latent units, 120 test examples mapped/,
    );
    assert.equal(await page.evaluate(() => (window as any).explorer.points), N);
    assert.equal(await page.evaluate(() => (window as any).explorer.map.points.length), 2 * N);
    // the map canvas holds coloured dots, not only its white ground
    const px = await pixels(page, 'map');
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] !== px[i + 1] || px[i + 1] !== px[i + 2]) coloured++;
    assert.ok(coloured > N, `${coloured} coloured pixels`);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: shot('web-explorer.png'), fullPage: true });
  });

  it('moving a slider changes the decoded image', async () => {
    const before = await pixels(page, 'decoded');
    const first = await page.evaluate(() =>
      (window as any).explorer.kl.indexOf(Math.max(...(window as any).explorer.kl)),
    );
    await page.locator(`#unit${first}`).fill('2.5');
    const after = await pixels(page, 'decoded');
    const changed = before.filter((v, i) => v !== after[i]).length;
    assert.ok(changed > 100, `${changed} pixel values changed`);
    // the most-used unit's slider is the first
    assert.equal(await page.evaluate(() => document.querySelector('#sliders input')!.id), `unit${first}`);
  });

  it('dragging across the map decodes its points live', async () => {
    const box = (await page.locator('#map').boundingBox())!;
    const before = await pixels(page, 'decoded');
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.7, { steps: 5 });
    await page.mouse.up();
    const after = await pixels(page, 'decoded');
    assert.ok(
      before.some((v, i) => v !== after[i]),
      'the decoded image follows the drag',
    );
  });

  it('the drawing canvas comes back reconstructed and scored', async () => {
    const box = (await page.locator('#draw').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 10 });
    await page.mouse.up();
    await page.click('#roundtrip');
    await page.waitForSelector('#score[data-done="1"]');
    const rec = await pixels(page, 'recon');
    const grey = new Set(rec.filter((_, i) => i % 4 === 0));
    assert.ok(grey.size > 10, `the reconstruction has ${grey.size} grey levels`);
    assert.match((await page.textContent('#score')) ?? '', /−ELBO \d+\.\d nats/);
    await page.screenshot({ path: shot('web-explorer-drawing.png'), fullPage: true });
  });

  it('says which tfjs backend runs: WebGL, or the CPU with the reason it fell back', async () => {
    const line = (await page.textContent('#backend')) ?? '';
    const be = await page.evaluate(() => (window as any).explorer.backend);
    assert.ok(be.backend === 'webgl' || be.backend === 'cpu', be.backend);
    assert.match(line, new RegExp(`^tfjs backend: ${be.backend}`));
    // chromium runs with --disable-gpu: when it gives no WebGL context the page falls back and says so
    if (be.backend === 'cpu') assert.match(line, /WebGL.*fell back to the CPU/);
    else {
      assert.equal(be.fallback, undefined);
      // WebGL decodes the same image as Node's tfjs-cpu to its float precision
      const z = [0.3, -1.2, 0.8, 2.0];
      const { model: m } = await loadModel(model);
      const inNode = decodeLatent(m, Float32Array.from(z), 1);
      m.dispose();
      const d = maxAbsDiff(await page.evaluate((zz) => (window as any).explorer.decode(zz), z), inNode);
      assert.ok(d <= (be.float32 ? 1e-3 : 1e-2), `WebGL vs Node: ${d}`);
    }
    // a browser without WebGL (no context of that kind to be had): the page falls back to the CPU and says why
    const p = await browser.newPage();
    try {
      await p.addInitScript(() => {
        for (const C of [HTMLCanvasElement, OffscreenCanvas]) {
          const get = C.prototype.getContext as (this: unknown, kind: string, ...a: unknown[]) => unknown;
          (C.prototype as any).getContext = function (this: unknown, kind: string, ...a: unknown[]) {
            return /webgl/.test(kind) ? null : get.call(this, kind, ...a);
          };
        }
      });
      await p.goto(`${s.url}/`);
      await p.waitForFunction(() => /^(ready|error)/.test(document.getElementById('status')!.textContent ?? ''), null, {
        timeout: 120_000,
      });
      assert.match((await p.textContent('#status')) ?? '', /^ready/);
      assert.match((await p.textContent('#backend')) ?? '', /^tfjs backend: cpu \(WebGL.*; fell back to the CPU\)/);
      assert.equal(await p.evaluate(() => (window as any).explorer.backend.backend), 'cpu');
      await p.screenshot({ path: shot('web-explorer-cpu-fallback.png'), fullPage: true });
    } finally {
      await p.close();
    }
  });

  it("the page's decoder output equals Node's for the same z to 1e-5 (on the CPU backend)", async () => {
    const z = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1, 1.5, -2.2];
    let on = page;
    if ((await page.evaluate(() => (window as any).explorer.backend.backend)) !== 'cpu') {
      on = await browser.newPage(); // WebGL ran: its float textures need not match to 1e-5; ask for the CPU
      await on.goto(`${s.url}/?backend=cpu`);
      await on.waitForFunction(() => /^ready/.test(document.getElementById('status')!.textContent ?? ''), null, {
        timeout: 120_000,
      });
    }
    assert.equal(await on.evaluate(() => (window as any).explorer.backend.backend), 'cpu');
    const inPage: number[] = await on.evaluate((zz) => (window as any).explorer.decode(zz), z);
    const { model: m } = await loadModel(model);
    const inNode = decodeLatent(m, Float32Array.from(z), 2);
    m.dispose();
    assert.equal(inPage.length, 2 * 784);
    const d = maxAbsDiff(inPage, inNode);
    assert.ok(d <= 1e-5, `max |page − node| = ${d}`);
  });

  it('?map=umap maps with umap-js, seeded: two loads give the same map', async () => {
    const load = async () => {
      const p = await browser.newPage();
      await p.goto(`${s.url}/?map=umap`);
      await p.waitForFunction(() => /^(ready|error)/.test(document.getElementById('status')!.textContent ?? ''), null, {
        timeout: 120_000,
      });
      const r = await p.evaluate(() => ({
        kind: (window as any).explorer.map.kind,
        points: Array.from((window as any).explorer.map.points as Float32Array),
      }));
      await p.close();
      return r;
    };
    const a = await load();
    const b = await load();
    assert.equal(a.kind, 'umap');
    assert.equal(a.points.length, 2 * N);
    assert.ok(a.points.every(Number.isFinite));
    assert.deepEqual(a.points, b.points);
  });
});
