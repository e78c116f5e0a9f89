// The model fingerprint of a compressed file: SHA-256 of the model's config (canonical JSON, keys sorted)
// and of every named parameter (name, shape and float32 bytes, in name order). Two models share it only
// when they compute the same thing, so a file decodes only with the model that wrote it.
import { Sha256 } from '../../codec/sha256.js';
import type { LatentVariableModel } from '../../models/types.js';

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function modelFingerprint(model: LatentVariableModel): string {
  const enc = new TextEncoder();
  const h = new Sha256().update(enc.encode(`vaekit-model\n${canonical(model.config)}\n`));
  const params = model.namedParameters();
  for (const name of Object.keys(params).sort()) {
    const t = params[name];
    h.update(enc.encode(`${name}[${t.shape.join(',')}]\n`));
    const data = t.dataSync() as Float32Array;
    h.update(new Uint8Array(Float32Array.from(data).buffer));
  }
  return Array.from(h.digest(), (b) => b.toString(16).padStart(2, '0')).join('');
}
