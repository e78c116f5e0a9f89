// End to end: the `vaekit` command on a small slice of real Fashion-MNIST, as a user runs it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { decodePng } from '../src/io/png.js';

const BIN = path.resolve('bin/vaekit.js');
const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const dataset = HAVE_FMNIST ? 'fashion-mnist' : 'mnist';
const small = [
  '--dataset',
  dataset,
  '--limit',
  '600',
  '--batch-size',
  '100',
  '--hidden',
  '64',
  '--latent',
  '8',
  '--progress',
  'lines',
];

/** Frames of a GIF: its image descriptors (0x2C), walking the block structure. */
function gifFrames(buf: Uint8Array): number {
  assert.equal(Buffer.from(buf.subarray(0, 6)).toString('latin1'), 'GIF89a');
  let p = 13;
  if (buf[10] & 0x80) p += 3 * (1 << ((buf[10] & 7) + 1)); // global colour table
  const skipSubBlocks = () => {
    while (buf[p] !== 0) p += buf[p] + 1;
    p++;
  };
  let frames = 0;
  for (;;) {
    const b = buf[p++];
    if (b === 0x3b) return frames;
    if (b === 0x21) {
      p++; // label
      skipSubBlocks();
    } else if (b === 0x2c) {
      frames++;
      const flags = buf[p + 8];
      p += 9;
      if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1)); // local colour table
      p++; // LZW minimum code size
      skipSubBlocks();
    } else throw new Error(`bad GIF block 0x${b?.toString(16)} at ${p - 1}`);
  }
}

function vaekit(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe(`vaekit CLI end to end (${dataset})`, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-cli-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const run = path.join(root, 'run');

  it('train writes the model (tfjs + safetensors + config), metrics, samples, reconstructions and a report', () => {
    const r = vaekit(['train', ...small, '--epochs', '2', '--seed', '3', '--out', run, '--report-k', '5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.epochs, 2);
    assert.ok(summary.final.total > 50 && summary.final.total < 700, `test −ELBO ${summary.final.total}`);
    assert.ok(summary.final.nll <= summary.final.total + 1, 'NLL estimate should not exceed −ELBO by much');
    for (const f of [
      'model/config.json',
      'model/model.safetensors',
      'model/tfjs/encoder/model.json',
      'model/tfjs/decoder/weights.bin',
      'metrics.jsonl',
      'report.md',
      'report.json',
      'checkpoint/state.json',
    ])
      assert.ok(existsSync(path.join(run, f)), `${f} exists`);
    const metrics = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(metrics.length, 2);
    assert.ok(metrics[1].loss < metrics[0].loss, 'training loss falls');
    assert.ok(metrics.every((m) => Number.isFinite(m.test_loss)));
    const png = decodePng(readFileSync(path.join(run, 'samples.png')));
    assert.ok(png.width > 28 * 4 && png.height > 28 * 4);
    assert.match(readFileSync(path.join(run, 'report.md'), 'utf8'), /−ELBO/);
    assert.match(r.stderr, /epoch 2\/2/);
  });

  it('sample, reconstruct, interpolate, encode and eval use the saved model', () => {
    const model = path.join(run, 'model');
    const s = vaekit(['sample', model, '--n', '16', '--out', path.join(root, 's.png'), '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).n, 16);
    assert.ok(decodePng(readFileSync(path.join(root, 's.png'))).width > 0);
    const rc = vaekit(['reconstruct', model, '--n', '8', '--out', path.join(root, 'r.png'), '--json']);
    assert.equal(rc.code, 0, rc.stderr);
    const ip = vaekit([
      'interpolate',
      model,
      '--from',
      '0',
      '--to',
      '5',
      '--steps',
      '7',
      '--out',
      path.join(root, 'i.png'),
      '--json',
    ]);
    assert.equal(ip.code, 0, ip.stderr);
    const en = vaekit(['encode', model, '--limit', '600', '--out', path.join(root, 'z.csv'), '--json']);
    assert.equal(en.code, 0, en.stderr);
    const lines = readFileSync(path.join(root, 'z.csv'), 'utf8').trim().split('\n');
    assert.equal(lines[0], 'mu0,mu1,mu2,mu3,mu4,mu5,mu6,mu7,label');
    assert.equal(lines.length, 1 + 100, 'one row per test example (limit 600 → 100 test)');
    // the JSON form (written batch by batch) is one valid document with the same means
    const ej = vaekit(['encode', model, '--limit', '600', '--with-logvar', '--out', path.join(root, 'z.json')]);
    assert.equal(ej.code, 0, ej.stderr);
    const doc = JSON.parse(readFileSync(path.join(root, 'z.json'), 'utf8'));
    assert.equal(doc.dim, 8);
    assert.equal(doc.n, 100);
    assert.equal(doc.rows.length, 100);
    assert.equal(doc.rows[99].logvar.length, 8);
    const csv = lines[100].split(',').map(Number);
    assert.deepEqual(
      doc.rows[99].mu.map((v: number) => +v.toPrecision(7)),
      csv.slice(0, 8),
    );
    assert.equal(doc.rows[99].label, csv[8]);
    const ev = vaekit(['eval', model, '--k', '20', '--no-sample-quality', '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const e = JSON.parse(ev.stdout);
    assert.equal(e.k, 20);
    assert.ok(e.nll < e.elbo + 2 && e.nll > 0, `nll ${e.nll} elbo ${e.elbo}`);
    assert.ok(e.nll_stderr > 0);
  });

  it('traverse writes one row per latent dimension (largest KL first) and an animated GIF', () => {
    const model = path.join(run, 'model');
    const dir = path.join(root, 'trav');
    const r = vaekit([
      'traverse',
      model,
      '--limit',
      '600',
      '--dims',
      '3',
      '--steps',
      '5',
      '--gif',
      '--out',
      dir,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.equal(t.rows, 3);
    assert.deepEqual(t.values, [-3, -1.5, 0, 1.5, 3]);
    assert.ok(t.kl[0] >= t.kl[1] && t.kl[1] >= t.kl[2], `rows sorted by KL: ${t.kl}`);
    const png = decodePng(readFileSync(path.join(dir, 'traversal.png')));
    // imageGrid: rows·28 + (rows+1) pixels of padding, enlarged ×2
    assert.equal(png.height, 2 * (3 * 28 + 4), 'three rows');
    assert.equal(png.width, 2 * (5 * 28 + 6), 'five columns');
    assert.equal(gifFrames(readFileSync(path.join(dir, 'traversal.gif'))), 2 * 5 - 2, 'forth and back: 5 + 3 frames');
    const fwd = vaekit([
      'traverse',
      model,
      '--limit',
      '600',
      '--steps',
      '4',
      '--range',
      '2',
      '--gif',
      '--no-ping-pong',
      '--out',
      path.join(root, 'trav2'),
      '--json',
    ]);
    assert.equal(fwd.code, 0, fwd.stderr);
    assert.equal(JSON.parse(fwd.stdout).rows, 8, 'all 8 latent dimensions by default');
    assert.equal(gifFrames(readFileSync(path.join(root, 'trav2', 'traversal.gif'))), 4);
    const bad = vaekit(['traverse', model, '--label', '1', '--out', path.join(root, 'trav3')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not conditioned on labels/);
  });

  it("a conditional VAE: reconstruct, encode and interpolate pass the data's labels; traverse needs --label", () => {
    const cv = path.join(root, 'cvae');
    const t = vaekit([
      'train',
      ...small.map((a) => (a === '8' ? '4' : a)),
      '--model',
      'cvae',
      '--epochs',
      '1',
      '--no-eval',
      '--report-k',
      '0',
      '--out',
      cv,
      '--json',
    ]);
    assert.equal(t.code, 0, t.stderr);
    const model = path.join(cv, 'model');
    const rc = vaekit([
      'reconstruct',
      model,
      '--limit',
      '600',
      '--n',
      '6',
      '--out',
      path.join(root, 'cr.png'),
      '--json',
    ]);
    assert.equal(rc.code, 0, rc.stderr);
    assert.equal(JSON.parse(rc.stdout).n, 6);
    assert.ok(decodePng(readFileSync(path.join(root, 'cr.png'))).width > 0);
    const en = vaekit(['encode', model, '--limit', '600', '--out', path.join(root, 'cz.csv')]);
    assert.equal(en.code, 0, en.stderr);
    const rows = readFileSync(path.join(root, 'cz.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'mu0,mu1,mu2,mu3,label');
    assert.equal(rows.length, 1 + 100);
    const labels = rows.slice(1).map((l) => Number(l.split(',').at(-1)));
    // two test examples of different classes, and two of the same class
    const other = labels.findIndex((c) => c !== labels[0]);
    const same = labels.indexOf(labels[0], 1);
    const ip = vaekit([
      'interpolate',
      model,
      '--limit',
      '600',
      '--from',
      '0',
      '--to',
      String(other),
      '--steps',
      '5',
      '--out',
      path.join(root, 'ci.png'),
      '--json',
    ]);
    assert.equal(ip.code, 0, ip.stderr);
    assert.deepEqual(JSON.parse(ip.stdout).labels, [labels[0], labels[other]]);
    assert.equal(JSON.parse(ip.stdout).decoded_with_label, labels[0]);
    if (same > 0) {
      const ip2 = vaekit([
        'interpolate',
        model,
        '--limit',
        '600',
        '--from',
        '0',
        '--to',
        String(same),
        '--steps',
        '3',
        '--out',
        path.join(root, 'ci2.png'),
      ]);
      assert.equal(ip2.code, 0, ip2.stderr);
      assert.match(ip2.stdout, /decoded with the label of --from/);
    }
    const tr = vaekit([
      'traverse',
      model,
      '--limit',
      '600',
      '--label',
      '2',
      '--steps',
      '3',
      '--gif',
      '--no-ping-pong',
      '--out',
      path.join(root, 'ctrav'),
      '--json',
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    assert.equal(JSON.parse(tr.stdout).rows, 4);
    assert.equal(decodePng(readFileSync(path.join(root, 'ctrav', 'traversal.png'))).height, 2 * (4 * 28 + 5));
    assert.equal(gifFrames(readFileSync(path.join(root, 'ctrav', 'traversal.gif'))), 3);
    const nolabel = vaekit(['traverse', model, '--limit', '600', '--out', path.join(root, 'ctrav2')]);
    assert.notEqual(nolabel.code, 0);
    assert.match(nolabel.stderr, /conditioned on a label: give --label \(0 … 9\)/);
  });

  it("traverse walks a hierarchical VAE's layers (one row per unit of z_1 and z_2)", () => {
    const hv = path.join(root, 'hvae');
    const t = vaekit([
      'train',
      ...small.filter((a) => a !== '--latent' && a !== '8'),
      '--model',
      'hvae',
      '--latents',
      '4,2',
      '--layer-hidden',
      '32',
      '--epochs',
      '1',
      '--no-eval',
      '--report-k',
      '0',
      '--out',
      hv,
    ]);
    assert.equal(t.code, 0, t.stderr);
    const tr = vaekit([
      'traverse',
      path.join(hv, 'model'),
      '--limit',
      '600',
      '--steps',
      '3',
      '--scale',
      '1',
      '--out',
      path.join(root, 'htrav'),
      '--json',
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    const r = JSON.parse(tr.stdout);
    assert.equal(r.rows, 6);
    assert.deepEqual([...r.dims].sort(), [0, 1, 2, 3, 4, 5]);
    const png = decodePng(readFileSync(path.join(root, 'htrav', 'traversal.png')));
    assert.equal(png.height, 6 * 28 + 7);
    assert.equal(png.width, 3 * 28 + 4);
    // the top layer's units (4, 5) reach the image through p(z_1 | z_2): their rows are not constant
    const W = png.width;
    for (const d of [4, 5]) {
      const row = r.dims.indexOf(d);
      let diff = 0;
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) {
          const top = (1 + row * 29 + y) * W;
          diff = Math.max(diff, Math.abs(png.pixels[top + 1 + x] - png.pixels[top + 1 + 2 * 29 + x]));
        }
      assert.ok(diff > 0.01, `row of z${d} changes the image (max ${diff})`);
    }
  });

  it('grad-variance measures both encoder-gradient estimators; --estimator score trains', () => {
    const g = vaekit([
      'grad-variance',
      path.join(run, 'model'),
      '--limit',
      '600',
      '--draws',
      '10',
      '--batch',
      '8',
      '--json',
    ]);
    assert.equal(g.code, 0, g.stderr);
    const rep = JSON.parse(g.stdout);
    assert.ok(JSON.stringify(rep).includes('score'), 'reports the score-function estimator');
    const t = vaekit([
      'train',
      ...small,
      '--epochs',
      '1',
      '--estimator',
      'score',
      '--baseline',
      'moving-average',
      '--out',
      path.join(root, 'sf'),
      '--report-k',
      '0',
      '--json',
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.ok(Number.isFinite(JSON.parse(t.stdout).final.total));
  });

  it('resume after a kill gives the same model as an uninterrupted run', async () => {
    const args = [
      'train',
      ...small,
      '--epochs',
      '2',
      '--seed',
      '4',
      '--no-eval',
      '--report-k',
      '0',
      '--checkpoint-every',
      '2',
    ];
    const whole = path.join(root, 'whole');
    assert.equal(vaekit([...args, '--out', whole]).code, 0);
    const killed = path.join(root, 'killed');
    const child = spawn(process.execPath, [BIN, ...args, '--out', killed], { stdio: 'ignore' });
    // kill it once a checkpoint inside epoch 2 exists
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        try {
          const st = JSON.parse(readFileSync(path.join(killed, 'checkpoint', 'state.json'), 'utf8'));
          if (st.step >= 8) {
            child.kill('SIGKILL');
            clearInterval(t);
            resolve();
          }
        } catch {
          /* not yet */
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(t);
        resolve();
      });
      setTimeout(() => reject(new Error('timed out')), 120_000);
    });
    const st = JSON.parse(readFileSync(path.join(killed, 'checkpoint', 'state.json'), 'utf8'));
    if (st.step >= 12) return; // finished before the kill landed: nothing to resume (rare)
    const r = vaekit([...args, '--out', killed, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming from/);
    assert.deepEqual(
      readFileSync(path.join(killed, 'model', 'model.safetensors')),
      readFileSync(path.join(whole, 'model', 'model.safetensors')),
    );
  });

  it('bad flags and bad files fail with a clear message and a non-zero exit', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--epochs', '0'], /--epochs must be a positive integer/],
      [['train', '--lr', 'fast'], /--lr must be a positive number/],
      [['train', '--dataset', 'imagenet'], /unknown dataset 'imagenet'/],
      [['train', '--optimizer', 'rmsprop'], /Allowed choices are adam, sgd, adagrad/],
      [['eval', path.join(root, 'nope')], /model config/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, re] of cases) {
      const r = vaekit(args);
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
      assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    }
    // a truncated weights file
    const broken = path.join(root, 'broken');
    cpSync(path.join(run, 'model'), broken, { recursive: true });
    const w = path.join(broken, 'model.safetensors');
    writeFileSync(w, readFileSync(w).subarray(0, 100));
    const r = vaekit(['sample', broken, '--out', path.join(root, 'x.png')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /model\.safetensors/);
    assert.ok(!existsSync(path.join(root, 'x.png')), 'nothing written');
    // a CSV with a NaN cell
    const csv = path.join(root, 'bad.csv');
    writeFileSync(csv, 'a,b\n1,2\n3,NaN\n');
    const c = vaekit(['train', '--dataset', `csv:${csv}`, '--out', path.join(root, 'csvrun')]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /line 3/);
  });

  it('--help works for every command', () => {
    for (const c of [
      [],
      ['train'],
      ['train-prior'],
      ['sample'],
      ['reconstruct'],
      ['interpolate'],
      ['traverse'],
      ['encode'],
      ['eval'],
      ['info'],
    ]) {
      const r = vaekit([...c, '--help']);
      assert.equal(r.code, 0, `${c.join(' ')} --help`);
      assert.match(r.stdout, /Usage: vaekit/);
    }
    const info = vaekit(['info', '--json']);
    assert.equal(info.code, 0);
    assert.ok(JSON.parse(info.stdout).backend);
  });

  it('trains on a numeric CSV file and writes de-normalised samples', () => {
    const csv = path.join(root, 'good.csv');
    const rows = ['height,weight,age'];
    for (let i = 0; i < 300; i++) rows.push(`${150 + (i % 50)},${50 + ((i * 7) % 40)},${20 + (i % 30)}`);
    writeFileSync(csv, rows.join('\n') + '\n');
    const out = path.join(root, 'csvgood');
    const r = vaekit([
      'train',
      '--dataset',
      `csv:${csv}`,
      '--epochs',
      '2',
      '--batch-size',
      '32',
      '--hidden',
      '16',
      '--latent',
      '2',
      '--out',
      out,
      '--report-k',
      '5',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const samples = readFileSync(path.join(out, 'samples.csv'), 'utf8').trim().split('\n');
    assert.equal(samples[0], 'height,weight,age');
    const h = samples.slice(1).map((l) => Number(l.split(',')[0]));
    const mean = h.reduce((a, b) => a + b, 0) / h.length;
    assert.ok(mean > 140 && mean < 210, `samples are in data units (mean height ${mean})`);
    const cfg = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8'));
    assert.equal(cfg.data.normalizer.kind, 'standardize');
  });

  const vq = path.join(root, 'vq');
  let vqFinal: Record<string, number> = {};
  it('trains a VQ-VAE (--model vqvae) and its PixelCNN prior; sample, reconstruct and encode (code indices) use it', () => {
    const tiny = [
      '--dataset',
      dataset,
      '--protocol',
      'continuous',
      '--limit',
      '256',
      '--batch-size',
      '64',
      '--progress',
      'lines',
    ];
    const vqFlags = [
      '--codebook',
      '32',
      '--code-dim',
      '8',
      '--channels',
      '8,16',
      '--commitment',
      '0.25',
      '--ema',
      '--restart-dead',
      '3',
      '--prior-channels',
      '16',
      '--prior-layers',
      '2',
    ];
    const r = vaekit([
      'train',
      '--model',
      'vqvae',
      ...tiny,
      ...vqFlags,
      '--epochs',
      '2',
      '--prior-epochs',
      '1',
      '--seed',
      '2',
      '--out',
      vq,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /epoch 2\/2 .*codebook perplexity [\d.]+, usage [\d.]+%.*test codebook perplexity/);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.prior_epochs, 1);
    const fin = (vqFinal = summary.final);
    assert.ok(fin.mse > 0 && fin.mse < 0.2 && fin.psnr > 5, `test MSE ${fin.mse}, PSNR ${fin.psnr}`);
    assert.ok(
      fin.perplexity >= 1 && fin.perplexity <= 32 && fin.usage > 0 && fin.usage <= 1,
      `perplexity ${fin.perplexity}, usage ${fin.usage}`,
    );
    assert.ok(fin.prior_nll > 0 && fin.prior_nll < 49 * Math.log(32) * 1.5, `prior −log p(k) ${fin.prior_nll}`);
    for (const f of [
      'model/config.json',
      'model/model.safetensors',
      'model/tfjs/encoder/model.json',
      'model/tfjs/decoder/model.json',
      'model/tfjs/prior/model.json',
      'metrics.jsonl',
      'report.md',
      'checkpoint/state.json',
    ])
      assert.ok(existsSync(path.join(vq, f)), `${f} exists`);
    const metrics = readFileSync(path.join(vq, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(metrics.length, 2);
    for (const m of metrics)
      for (const k of [
        'loss',
        'rec',
        'commitment',
        'perplexity',
        'usage',
        'restarts',
        'test_mse',
        'test_psnr',
        'test_perplexity',
        'test_usage',
      ])
        assert.ok(Number.isFinite(m[k]), `metrics.jsonl: ${k}`);
    for (const f of ['samples.png', 'reconstructions.png'])
      assert.ok(decodePng(readFileSync(path.join(vq, f))).width >= 28 * 4, f);
    assert.match(readFileSync(path.join(vq, 'report.md'), 'utf8'), /codebook: perplexity/);

    const model = path.join(vq, 'model');
    const s = vaekit(['sample', model, '--n', '9', '--out', path.join(root, 'vq-s.png'), '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).n, 9);
    assert.ok(decodePng(readFileSync(path.join(root, 'vq-s.png'))).width > 0);
    const rc = vaekit([
      'reconstruct',
      model,
      '--limit',
      '256',
      '--n',
      '8',
      '--out',
      path.join(root, 'vq-r.png'),
      '--json',
    ]);
    assert.equal(rc.code, 0, rc.stderr);
    const en = vaekit(['encode', model, '--limit', '256', '--out', path.join(root, 'vq-codes.csv'), '--json']);
    assert.equal(en.code, 0, en.stderr);
    const lines = readFileSync(path.join(root, 'vq-codes.csv'), 'utf8').trim().split('\n');
    assert.equal(
      lines[0],
      [...Array.from({ length: 49 }, (_, i) => `k${i}`), 'label'].join(','),
      'one column per code of the 7×7 grid',
    );
    assert.ok(
      lines.slice(1).every((l) =>
        l
          .split(',')
          .slice(0, 49)
          .every((v) => /^\d+$/.test(v) && Number(v) < 32),
      ),
      'code indices in 0 … K−1',
    );
  });

  it('VQ-VAE: eval reports reconstruction, codebook and prior (no ELBO/NLL); train-prior refits; no prior, no samples', () => {
    const model = path.join(vq, 'model');
    const fin = vqFinal;
    const ev = vaekit(['eval', model, '--limit', '256', '--quick', '--no-sample-quality', '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const e = JSON.parse(ev.stdout);
    assert.match(e.likelihood.skipped, /not applicable to a VQ-VAE/);
    assert.ok(
      Math.abs(e.reconstruction.mse - fin.mse) < 1e-6 && e.reconstruction.ssim > 0,
      `eval MSE ${e.reconstruction.mse} vs train's ${fin.mse}`,
    );
    assert.ok(Math.abs(e.codebook.perplexity - fin.perplexity) < 1e-6);
    assert.ok(Math.abs(e.prior.nll - fin.prior_nll) < 1e-3);

    // refit the prior of the saved model (atomic save in place); then a model whose prior was never fitted cannot sample
    const tp = vaekit([
      'train-prior',
      model,
      '--epochs',
      '1',
      '--limit',
      '256',
      '--batch-size',
      '64',
      '--seed',
      '5',
      '--progress',
      'none',
      '--json',
    ]);
    assert.equal(tp.code, 0, tp.stderr);
    assert.equal(JSON.parse(tp.stdout).prior.epochs, 1);
    assert.equal(vaekit(['sample', model, '--n', '4', '--out', path.join(root, 'vq-s2.png')]).code, 0);
    const noPrior = path.join(root, 'vq-noprior');
    cpSync(model, noPrior, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(noPrior, 'config.json'), 'utf8'));
    delete cfg.training.prior;
    writeFileSync(path.join(noPrior, 'config.json'), JSON.stringify(cfg));
    const ns = vaekit(['sample', noPrior, '--out', path.join(root, 'vq-none.png')]);
    assert.notEqual(ns.code, 0);
    assert.match(ns.stderr, /this VQ-VAE has no trained prior; run vaekit train-prior/);
    assert.ok(!existsSync(path.join(root, 'vq-none.png')));
    const ne = vaekit(['eval', noPrior, '--limit', '256', '--quick', '--json']);
    assert.equal(ne.code, 0, ne.stderr);
    assert.match(JSON.parse(ne.stdout).sample_quality.skipped, /no trained prior/);
  });

  it('VQ-VAE flags: bad values and flags of other models fail with a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--model', 'vqvae', '--codebook', '0'], /--codebook must be a positive integer, got "0"/],
      [['train', '--model', 'vqvae', '--codebook', '1'], /--codebook 1 must be at least 2/],
      [['train', '--model', 'vqvae', '--objective', 'iwae'], /--model vqvae: --objective iwae does not apply/],
      [['train', '--model', 'vqvae', '--beta', '4'], /--model vqvae: --beta does not apply/],
      [['train', '--model', 'vqvae', '--sigma', 'learned'], /fixed σ/],
      [['train', '--model', 'vqvae', '--ema-decay', '1.5'], /--ema-decay 1.5 must be in \(0, 1\)/],
      [['train', '--model', 'vqvae', '--commitment', '-1'], /--commitment must be a non-negative number/],
      [['train', '--codebook', '64'], /--codebook is an option of --model vqvae/],
    ];
    // a VAE of the first test, when it ran
    if (existsSync(path.join(root, 'run', 'model')))
      cases.push([['train-prior', path.join(root, 'run', 'model'), '--epochs', '1'], /not a VQ-VAE/]);
    for (const [args, re] of cases) {
      const r = vaekit([
        ...args,
        '--limit',
        '60',
        ...(args[0] === 'train' ? ['--out', path.join(root, 'vq-bad')] : []),
      ]);
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
      assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('trains the sequence VAE on a word list (words:PATH) and writes samples and reconstructions as text', () => {
    const list = path.join(root, 'words.txt');
    const ws = [
      'apple',
      'banana',
      'cherry',
      'delta',
      'echo',
      'foxtrot',
      'golf',
      'hotel',
      'india',
      'juliet',
      'kilo',
      'lima',
    ];
    writeFileSync(
      list,
      Array.from({ length: 20 }, (_, i) => ws.map((w) => w + 'abcdefghij'[i % 10]))
        .flat()
        .join('\n') + '\n',
    );
    const out = path.join(root, 'seq');
    const r = vaekit([
      'train',
      '--model',
      'seqvae',
      '--dataset',
      `words:${list}`,
      '--epochs',
      '2',
      '--batch-size',
      '32',
      '--rnn-hidden',
      '16',
      '--embedding',
      '8',
      '--latent',
      '4',
      '--out',
      out,
      '--report-k',
      '5',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rec = readFileSync(path.join(out, 'reconstructions.txt'), 'utf8').trim().split('\n');
    assert.ok(rec.length > 0 && rec.every((l) => /^[a-z]+\t[a-z]*$/.test(l)), rec.slice(0, 3).join(' | '));
    assert.ok(readFileSync(path.join(out, 'samples.txt'), 'utf8').trim().split('\n').length === 64);
    const cfg = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8'));
    assert.equal(cfg.config.kind, 'seqvae');
    const tr = vaekit(['traverse', path.join(out, 'model'), '--out', path.join(root, 'seqtrav')]);
    assert.notEqual(tr.code, 0);
    assert.match(
      tr.stderr,
      /traverse: needs an image model with a continuous latent \(vae, cvae or hvae\); this model is a seqvae/,
    );
    const bad = vaekit(['train', '--cell', 'lstm', '--out', path.join(root, 'x')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--cell is an option of --model seqvae/);
  });
});

describe('vaekit train --resume continues the run with its flags', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-resume-flags-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const tiny = [
    'train',
    '--dataset',
    'mnist',
    '--limit',
    '256',
    '--hidden',
    '32',
    '--latent',
    '4',
    '--no-eval',
    '--report-k',
    '0',
    '--progress',
    'none',
  ];
  const metrics = (dir: string) =>
    readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  const files = (dir: string) =>
    [
      'checkpoint/state.json',
      'checkpoint/model.safetensors',
      'checkpoint/optimizer.safetensors',
      'metrics.jsonl',
      'model/model.safetensors',
    ].map((f) => readFileSync(path.join(dir, f)));
  // 256 examples in batches of 128: 2 steps an epoch; β at step s (0-based) with warm-up W is β·(s + 1)/W
  const out = path.join(root, 'run');

  it("flags not given take the run's: β and the warm-up of the run, the model of the run", () => {
    const a = vaekit([...tiny, '--beta', '4', '--kl-warmup', '10', '--steps', '2', '--out', out]);
    assert.equal(a.code, 0, a.stderr);
    const b = vaekit(['train', '--resume', '--steps', '4', '--progress', 'none', '--out', out]); // nothing else: not even the data or the model
    assert.equal(b.code, 0, b.stderr);
    assert.match(
      b.stderr,
      /resume: continuing with the run's flags: .*--limit 256.*--hidden 32.*--beta 4 --kl-warmup 10/,
    );
    assert.match(b.stderr, /β=4/);
    assert.deepEqual(
      metrics(out).map((m) => m.beta),
      [4 * (2 / 10), 4 * (4 / 10)],
    );
  });

  it('refuses a flag that would change the data stream, naming it and both values; nothing is written', () => {
    const before = files(out);
    for (const [args, re] of [
      [
        ['--batch-size', '64'],
        /--batch-size 64 would change the run's data stream: the run in .* was started with --batch-size 128/,
      ],
      [['--latent', '8'], /--latent 8 would change the run's model: .*--latent 4/],
      [['--optimizer', 'sgd'], /--optimizer sgd would change the run's optimizer.*--optimizer adam/],
    ] as const) {
      const r = vaekit(['train', '--resume', '--steps', '6', ...args, '--progress', 'none', '--out', out]);
      assert.notEqual(r.code, 0, `${args.join(' ')} should be refused`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.deepEqual(files(out), before, 'checkpoint, metrics and model unchanged');
  });

  it('takes a changed β with a notice, and keeps it for the next resume', () => {
    const r = vaekit(['train', '--resume', '--beta', '2', '--steps', '6', '--progress', 'none', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resume: changing the run's flags as given: --beta 4 → 2/);
    const again = vaekit(['train', '--resume', '--steps', '8', '--progress', 'none', '--out', out]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /--beta 2 --kl-warmup 10/);
    assert.deepEqual(
      metrics(out).map((m) => m.beta),
      [0.8, 1.6, 2 * (6 / 10), 2 * (8 / 10)],
    );
  });

  it('a run from before the flags were stored resumes as given, with a warning', () => {
    const old = path.join(root, 'old');
    assert.equal(vaekit([...tiny, '--beta', '4', '--steps', '2', '--out', old]).code, 0);
    const stateFile = path.join(old, 'checkpoint', 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    assert.ok(state.run.flags, 'the checkpoint records the flags');
    delete state.run.flags;
    writeFileSync(stateFile, JSON.stringify(state));
    const r = vaekit([...tiny, '--resume', '--steps', '4', '--out', old]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: resume: .* does not record the run's flags.*could not be checked/);
    assert.deepEqual(
      metrics(old).map((m) => m.beta),
      [4, 1],
      'as today: the flags given (β 1)',
    );
  });
});
