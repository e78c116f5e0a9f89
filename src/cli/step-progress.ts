// Progress of the long steps after training and in `eval` (the k = 1000 NLL, training the evaluation
// classifier): a cli-progress bar on a terminal, otherwise a line every `intervalMs` with the ETA, so a log
// file shows the run is alive. The library only calls back with (done, total); this turns that into output.
import cliProgress from 'cli-progress';

export type StepProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface StepReporter {
  /** `done` of `total` units; `note` (e.g. "loss 0.31") goes at the end of the line. */
  update(done: number, total: number, note?: string): void;
  /** The step is over: the bar goes; in lines mode, if it printed any line, a last one says how long it took. */
  finish(): void;
}

export interface StepProgressOptions {
  mode?: StepProgressMode;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Lines mode: at most one line per this many ms (default VAEKIT_PROGRESS_INTERVAL_MS, else 10 s). */
  intervalMs?: number;
  /** What is counted ("examples", "steps"). */
  unit?: string;
  now?: () => number;
}

const DEFAULT_INTERVAL_MS = 10_000;

function defaultInterval(): number {
  const v = Number(process.env.VAEKIT_PROGRESS_INTERVAL_MS);
  return Number.isFinite(v) && v >= 0 && process.env.VAEKIT_PROGRESS_INTERVAL_MS !== '' ? v : DEFAULT_INTERVAL_MS;
}

/** 75 → "1m15s", 3725 → "1h02m", 9.4 → "9s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function stepProgress(label: string, opts: StepProgressOptions = {}): StepReporter {
  const stream = opts.stream ?? process.stderr;
  let mode = opts.mode ?? 'auto';
  if (mode === 'auto') mode = stream.isTTY ? 'bar' : 'lines';
  const unit = opts.unit ?? '';
  if (mode === 'none') return { update() {}, finish() {} };
  if (mode === 'bar') {
    let bar: cliProgress.SingleBar | undefined;
    return {
      update(done, total, note) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `vaekit: ${label} |{bar}| {value}/{total}${unit ? ` ${unit}` : ''}  ETA {eta_formatted}  {note}`,
              stream: stream as NodeJS.WriteStream,
              hideCursor: true,
              clearOnComplete: true,
              etaBuffer: 20,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0, { note: '' });
        }
        bar.setTotal(total);
        bar.update(done, { note: note ?? '' });
      },
      finish() {
        bar?.stop();
        bar = undefined;
      },
    };
  }
  const now = opts.now ?? (() => performance.now());
  const interval = opts.intervalMs ?? defaultInterval();
  const t0 = now();
  let last = t0;
  let said = false;
  return {
    update(done, total, note) {
      const t = now();
      if (t - last < interval || done >= total || done <= 0) return;
      last = t;
      said = true;
      const elapsed = (t - t0) / 1000;
      const eta = (elapsed * (total - done)) / done;
      const pct = Math.floor((100 * done) / total);
      stream.write(
        `vaekit: ${label}: ${done}/${total}${unit ? ` ${unit}` : ''} (${pct}%), ${formatDuration(elapsed)} so far, ` +
          `ETA ${formatDuration(eta)}${note ? `, ${note}` : ''}\n`,
      );
    },
    finish() {
      if (said) stream.write(`vaekit: ${label}: done in ${formatDuration((now() - t0) / 1000)}\n`);
    },
  };
}

/**
 * One reporter per named step, for a library call that reports several (`onProgress(step, done, total)`):
 * a new step finishes the one before; finish() ends the last.
 */
export function multiStepProgress(
  labels: Record<string, { label: string; unit?: string }>,
  opts: StepProgressOptions = {},
): { onProgress: (step: string, done: number, total: number) => void; finish: () => void } {
  let current: { step: string; r: StepReporter } | undefined;
  return {
    onProgress(step, done, total) {
      if (current?.step !== step) {
        current?.r.finish();
        const l = labels[step] ?? { label: step };
        current = { step, r: stepProgress(l.label, { ...opts, unit: l.unit ?? opts.unit }) };
      }
      current.r.update(done, total);
    },
    finish() {
      current?.r.finish();
      current = undefined;
    },
  };
}
