// Progress: a bar with the loss terms, steps/s and ETA on a TTY; plain log lines otherwise.
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface Progress {
  startEpoch(epoch: number, epochs: number, total: number, done: number): void;
  update(done: number, terms: Record<string, number>): void;
  endEpoch(line: string): void;
  stop(): void;
}

const fmt = (terms: Record<string, number>) =>
  Object.entries(terms)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join('  ');

export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (mode === 'auto') mode = stream.isTTY ? 'bar' : 'lines';
  if (mode === 'none') return { startEpoch() {}, update() {}, endEpoch() {}, stop() {} };
  if (mode === 'bar') {
    let bar: cliProgress.SingleBar | null = null;
    let t0 = 0;
    let d0 = 0;
    return {
      startEpoch(epoch, epochs, total, done) {
        bar = new cliProgress.SingleBar(
          {
            format: `epoch ${epoch}/${epochs} |{bar}| {value}/{total}  {terms}  {rate} steps/s  ETA {eta_formatted}`,
            stream,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        t0 = performance.now();
        d0 = done;
        bar.start(total, done, { terms: '', rate: '-' });
      },
      update(done, terms) {
        const rate = ((done - d0) / ((performance.now() - t0) / 1000)).toFixed(1);
        bar?.update(done, { terms: fmt(terms), rate });
      },
      endEpoch(line) {
        bar?.stop();
        bar = null;
        stream.write(line + '\n');
      },
      stop() {
        bar?.stop();
        bar = null;
      },
    };
  }
  // lines: one line every ~10% of an epoch and one per epoch
  let every = 1;
  let total = 0;
  let t0 = 0;
  let d0 = 0;
  let ep = '';
  return {
    startEpoch(epoch, epochs, tot, done) {
      total = tot;
      every = Math.max(1, Math.round(tot / 10));
      t0 = performance.now();
      d0 = done;
      ep = `epoch ${epoch}/${epochs}`;
    },
    update(done, terms) {
      if (done % every !== 0 || done === total) return;
      const s = (performance.now() - t0) / 1000;
      const rate = (done - d0) / s;
      const eta = (total - done) / Math.max(rate, 1e-9);
      stream.write(`${ep} step ${done}/${total}  ${fmt(terms)}  ${rate.toFixed(1)} steps/s  ETA ${eta.toFixed(0)}s\n`);
    },
    endEpoch(line) {
      stream.write(line + '\n');
    },
    stop() {},
  };
}
