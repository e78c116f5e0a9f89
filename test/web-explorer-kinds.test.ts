// The explorer page in chromium for the model kinds beyond the plain VAE, each served by `vaekit serve` (the
// fixtures of test/fixtures/models-v1; the words model is test/fixtures/words-seqvae, whose latent code is used,
// test/fixtures-words.test.ts): a words SeqVAE (the text box reconstructs the word as Node does and lists
// its nearest test words in latent space; a word it cannot take is named), a VQ-VAE (code usage, the map of the
// quantised latents, setting a code at a grid position changes the decoded image, decoded as Node does) and a
// conditional VAE (the label picker changes the decoded image). The pages run on ?backend=cpu, so that they
// match Node's tfjs-cpu to 1e-5. Screenshots in test/artifacts/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { loadModel } from '../src/io/model.js';
import type { SeqVAE } from '../src/models/seqvae.js';
import { decodeCodes } from '../src/tasks/explore-codes.js';
import { nearestRows } from '../src/tasks/explore.js';
import { reconstructWords, wordMeans } from '../src/tasks/words.js';
import { maxAbsDiff, setupBackend } from './helpers.js';
import { startServe, type Served } from './serve-helpers.js';
import { launchChromium, root } from './web-helpers.js';

const fixture = (k: string) =>
  k === 'seqvae'
    ? path.join(root, 'test', 'fixtures', 'words-seqvae')
    : path.join(root, 'test', 'fixtures', 'models-v1', k);
const shot = (name: string) => path.join(root, 'test', 'artifacts', name);
const pixels = (page: Page, id: string) =>
  page.evaluate((el) => {
    const c = document.getElementById(el) as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  }, id);

let browser: BrowserContext;
before(async () => {
  await setupBackend();
  browser = await launchChromium();
});
after(() => browser?.close());

async function open(kind: string, examples: number): Promise<{ s: Served; page: Page; errors: string[] }> {
  const s = await startServe([fixture(kind), '--port', '0', '--examples', String(examples)]);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${s.url}/?backend=cpu`);
  await page.waitForFunction(() => /^(ready|error)/.test(document.getElementById('status')!.textContent ?? ''), null, {
    timeout: 120_000,
  });
  return { s, page, errors };
}

describe('explorer: a words model', () => {
  let s: Served;
  let page: Page;
  let errors: string[];
  before(async () => ({ s, page, errors } = await open('seqvae', 150)));
  after(async () => {
    await page?.close();
    await s?.stop();
  });

  it('maps the test words, and the text box reconstructs a word and lists its nearest test words', async () => {
    assert.match((await page.textContent('#status')) ?? '', /^ready: seqvae with 8 latent units, 150 test examples/);
    assert.equal(await page.isVisible('#draw'), false, 'no drawing canvas for words');
    const testWords: string[] = await page.evaluate(() => (window as any).explorer.testWords);
    assert.equal(testWords.length, 150);
    assert.ok(testWords.every((w) => /^[a-z]+$/.test(w)));
    await page.fill('#word', 'house');
    await page.press('#word', 'Enter');
    await page.waitForSelector('#wordrecon[data-done="1"]');
    const { model } = await loadModel(fixture('seqvae'));
    const m = model as SeqVAE;
    const rec = reconstructWords(m, ['house'])[0];
    assert.equal(
      await page.textContent('#wordrecon'),
      `house → ${rec || '(empty)'}${rec === 'house' ? ' (exact)' : ''}`,
    );
    // the neighbours: Node's nearest test words by the distance between posterior means
    const mu = wordMeans(m, testWords);
    const q = wordMeans(m, ['house']);
    const near = nearestRows(mu, testWords.length, m.config.latentDim, q, 8);
    const listed = await page.$$eval('#neighbours li', (li) => li.map((e) => e.textContent ?? ''));
    assert.equal(listed.length, 8);
    assert.deepEqual(
      listed.map((l) => l.replace(/ \(.*$/, '')),
      near.index.map((i) => testWords[i]),
    );
    const inPage = await page.evaluate(() => (window as any).explorer.wordQuery('house'));
    assert.ok(maxAbsDiff(inPage.mu, q) <= 1e-5);
    for (let k = 0; k < 8; k++) assert.ok(Math.abs(inPage.neighbours[k].distance - near.distance[k]) <= 1e-5);
    // the sliders hold μ(house), and the decoded word is the word at that point
    const z: number[] = await page.evaluate(() => Array.from((window as any).explorer.z));
    assert.ok(maxAbsDiff(z, q) <= 1e-5);
    assert.equal(await page.textContent('#decodedword'), rec || '(empty)');
    model.dispose();
    await page.screenshot({ path: shot('web-explorer-words.png'), fullPage: true });
  });

  it('names a word the model cannot take, and then takes the next one', async () => {
    await page.fill('#word', 'Hello!');
    await page.press('#word', 'Enter');
    assert.match((await page.textContent('#wordrecon')) ?? '', /cannot take "Hello!": the characters "H", "!" are not/);
    assert.equal(await page.$$eval('#neighbours li', (li) => li.length), 0);
    await page.fill('#word', 'abcdefghijklmnop');
    await page.press('#word', 'Enter');
    assert.match((await page.textContent('#wordrecon')) ?? '', /has 16 characters.*at most 12/);
    await page.fill('#word', 'cat');
    await page.click('#wordgo');
    assert.match((await page.textContent('#wordrecon')) ?? '', /^cat → /);
    assert.equal(await page.$$eval('#neighbours li', (li) => li.length), 8);
    // a slider moves the decoded word's point
    assert.deepEqual(errors, []);
  });
});

describe('explorer: a VQ-VAE', () => {
  let s: Served;
  let page: Page;
  let errors: string[];
  before(async () => ({ s, page, errors } = await open('vqvae', 100)));
  after(async () => {
    await page?.close();
    await s?.stop();
  });

  it('shows code usage and a map of the quantised latents; setting a code changes the decoded image', async () => {
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^ready: vqvae with a \d+×\d+ grid of codes from a codebook of 8, 100 test examples mapped/,
    );
    assert.equal(await page.evaluate(() => (window as any).explorer.map.points.length), 200);
    const vq = await page.evaluate(() => {
      const v = (window as any).explorer.vq;
      return { codes: Array.from(v.codes as Int32Array), usage: v.usage, K: v.K };
    });
    const all: number[] = await page.evaluate(() => (window as any).explorer.exampleCodes);
    const counts = new Array(vq.K).fill(0);
    all.forEach((c) => counts[c]++);
    assert.deepEqual(vq.usage.counts, counts);
    assert.match((await page.textContent('#usagetext')) ?? '', new RegExp(`^${vq.usage.used} of 8 codes used`));
    assert.deepEqual(vq.codes, all.slice(0, vq.codes.length), 'the grid of test example #0');

    const before = await pixels(page, 'decoded');
    const cell = 1;
    const grid0 = page.locator('#codegrid');
    const box = (await grid0.boundingBox())!;
    const [h, w] = await page.evaluate(() => (window as any).explorer.vq.grid);
    // (the locator scrolls the grid into view; the position is within its box)
    await grid0.click({
      position: { x: ((cell % w) + 0.5) * (box.width / w), y: (Math.floor(cell / w) + 0.5) * (box.height / h) },
    });
    assert.equal(await page.evaluate(() => (window as any).explorer.vq.cell), cell);
    const k = (vq.codes[cell] + 3) % vq.K;
    await page.locator('#code').fill(String(k));
    const after = await pixels(page, 'decoded');
    const changed = before.filter((v, i) => v !== after[i]).length;
    assert.ok(changed > 100, `${changed} pixel values changed`);
    assert.match((await page.textContent('#codetext')) ?? '', new RegExp(`: code ${k}$`));
    const grid = vq.codes.slice();
    grid[cell] = k;
    assert.deepEqual(await page.evaluate(() => Array.from((window as any).explorer.vq.codes)), grid);
    // the page decodes the grid as Node does
    const { model } = await loadModel(fixture('vqvae'));
    const inNode = decodeCodes(model, grid, 1);
    model.dispose();
    const inPage: number[] = await page.evaluate((g) => (window as any).explorer.decodeCodes(g), grid);
    assert.ok(maxAbsDiff(inPage, inNode) <= 1e-5, `max |page − node| = ${maxAbsDiff(inPage, inNode)}`);
    await page.screenshot({ path: shot('web-explorer-vqvae.png'), fullPage: true });
  });

  it("clicking the map loads the nearest example's code grid", async () => {
    const target = await page.evaluate(() => {
      const m = (window as any).explorer.map;
      return { u: m.points[2 * 7], v: m.points[2 * 7 + 1], lo: m.lo, hi: m.hi };
    });
    const map = page.locator('#map');
    const box = (await map.boundingBox())!;
    await map.click({
      position: {
        x: ((target.u - target.lo[0]) / (target.hi[0] - target.lo[0])) * box.width,
        y: box.height - ((target.v - target.lo[1]) / (target.hi[1] - target.lo[1])) * box.height,
      },
    });
    const from = (await page.textContent('#codefrom')) ?? '';
    const i = Number(from.replace(/^test example #/, ''));
    const all: number[] = await page.evaluate(() => (window as any).explorer.exampleCodes);
    const codes: number[] = await page.evaluate(() => Array.from((window as any).explorer.vq.codes));
    assert.deepEqual(codes, all.slice(i * codes.length, (i + 1) * codes.length));
    // a drawing's round trip shows its own code grid
    const draw = page.locator('#draw');
    const db = (await draw.boundingBox())!;
    await draw.hover({ position: { x: db.width * 0.5, y: db.height * 0.2 } });
    await page.mouse.down();
    await draw.hover({ position: { x: db.width * 0.5, y: db.height * 0.8 } });
    await page.mouse.up();
    await page.click('#roundtrip');
    await page.waitForSelector('#score[data-done="1"]');
    assert.equal(await page.textContent('#codefrom'), 'the drawing');
    const drawn: number[] = await page.evaluate(() => Array.from((window as any).explorer.vq.codes));
    assert.equal(drawn.length, codes.length);
    assert.match((await page.textContent('#score')) ?? '', /anomaly score: −ELBO/);
    assert.deepEqual(errors, []);
  });
});

describe('explorer: a conditional VAE', () => {
  let s: Served;
  let page: Page;
  before(async () => ({ s, page } = await open('cvae', 100)));
  after(async () => {
    await page?.close();
    await s?.stop();
  });

  it('offers a label picker, and picking another label changes the decoded image as Node decodes it', async () => {
    assert.match((await page.textContent('#status')) ?? '', /^ready: cvae with 4 latent units/);
    assert.equal(await page.isVisible('#labelpick'), true);
    assert.equal(await page.$$eval('#label option', (o) => o.length), 10);
    const a = await pixels(page, 'decoded');
    await page.selectOption('#label', '7');
    const b = await pixels(page, 'decoded');
    assert.ok(a.filter((v, i) => v !== b[i]).length > 100, 'the decoded image follows the label');
    const z = [0.5, -0.5, 1, 0];
    const inPage: number[] = await page.evaluate((zz) => (window as any).explorer.decode(zz, [7]), z);
    const { model } = await loadModel(fixture('cvae'));
    const { decodeLatent } = await import('../src/tasks/explore.js');
    const inNode = decodeLatent(model, Float32Array.from(z), 1, [7]);
    model.dispose();
    assert.ok(maxAbsDiff(inPage, inNode) <= 1e-5);
    await page.screenshot({ path: shot('web-explorer-cvae.png'), fullPage: true });
  });
});
