// Worker thread of a lazy PNG folder (png-folder.ts): reads and decodes the files it is sent and converts
// them with the protocol's table; the float32 rows go back as a transferred buffer.
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { decodePng, type PngJob } from './png-decode.js';

parentPort!.on('message', (job: PngJob) => {
  try {
    const d = job.spec.height * job.spec.width * (job.spec.color === 'rgb' ? 3 : 1);
    const out = new Float32Array(job.paths.length * d);
    job.paths.forEach((p, i) => {
      const px = decodePng(readFileSync(p), p, job.spec);
      for (let k = 0; k < d; k++) out[i * d + k] = job.table[px[k]];
    });
    parentPort!.postMessage({ id: job.id, x: out }, [out.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) });
  }
});
