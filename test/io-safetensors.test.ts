import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type TensorInput } from '../src/codec/safetensors.js';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors-file.js';

const created: string[] = [];
after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});
function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vaekit-io-st-'));
  created.push(d);
  return d;
}

/** Build a file by hand: header object → padded bytes + raw data. */
function rawFile(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  opts: { n?: bigint; pad?: boolean } = {},
): Uint8Array {
  let json = JSON.stringify(header);
  if (opts.pad !== false) while ((8 + json.length) % 8 !== 0) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function sample(): Record<string, TensorInput> {
  return {
    'enc.w': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, Math.PI, -0, 1e30]) },
    'enc.b': { dtype: 'F32', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    step: { dtype: 'I32', shape: [], data: new Int32Array([-123456]) },
    mask: { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 255, 7, 9]) },
    dbl: { dtype: 'F64', shape: [2, 1], data: new Float64Array([Math.E, -1e-300]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    big: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 5n]) },
    i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
  };
}

it('safetensors: round trip of all dtypes, scalars, empty tensors and metadata', () => {
  const tensors = sample();
  const meta = { format: 'pt', note: 'ünïcode ✓', config: JSON.stringify({ latent: 16 }) };
  const buf = encodeSafetensors(tensors, meta);
  const n = Number(new DataView(buf.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'header padded to 8-byte alignment');
  assert.equal(buf[8], '{'.charCodeAt(0));
  const { tensors: back, metadata } = decodeSafetensors(buf);
  assert.deepEqual(metadata, meta);
  assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const b = back[name];
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.equal(b.data.constructor, t.data.constructor, name);
    assert.deepEqual([...b.data], [...t.data], name);
  }
  // Decoded arrays are copies, aligned, independent of the input buffer.
  buf.fill(0, 8 + n);
  assert.equal(back['dbl'].data[0], Math.E);
  // Larger elements first → every tensor naturally aligned inside the data section.
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  for (const [name, t] of Object.entries(tensors)) {
    assert.equal(header[name].data_offsets[0] % t.data.BYTES_PER_ELEMENT, 0, name);
  }
  // No metadata → {} and no __metadata__ key.
  const plain = encodeSafetensors({ x: tensors['step'] });
  assert.deepEqual(decodeSafetensors(plain).metadata, {});
  assert.ok(!new TextDecoder().decode(plain).includes('__metadata__'));
  // Names that are Object.prototype keys stay plain keys.
  const proto = JSON.parse('{"__proto__": {"dtype": "U8", "shape": [1], "data": null}}');
  proto['__proto__'].data = new Uint8Array([7]);
  const pb = decodeSafetensors(encodeSafetensors(proto, JSON.parse('{"__proto__": "m"}')));
  assert.deepEqual(Object.keys(pb.tensors), ['__proto__']);
  assert.deepEqual([...pb.tensors['__proto__'].data], [7]);
  assert.deepEqual(Object.entries(pb.metadata), [['__proto__', 'm']]);
  // Zero tensors is a valid file.
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})).tensors, {});
});

it('safetensors: exact bytes of a tiny file', () => {
  const buf = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes → pad to 56
  const expected = new Uint8Array(8 + 56 + 8);
  expected[0] = 56;
  expected.set(new TextEncoder().encode(json.padEnd(56, ' ')), 8);
  expected.set([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40], 64); // 1.0f, 2.0f little-endian
  assert.deepEqual([...buf], [...expected]);
});

it('safetensors: decodes from a Buffer slice with a non-zero byteOffset', () => {
  const buf = encodeSafetensors(sample());
  const big = Buffer.alloc(buf.length + 13);
  big.set(buf, 5);
  const view = big.subarray(5, 5 + buf.length);
  assert.deepEqual([...decodeSafetensors(view).tensors['enc.b'].data], [...new Float32Array([0.1, 0.2, 0.3])]);
});

it('safetensors: encode rejects inconsistent tensors', () => {
  assert.throws(
    () => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    /3 elements but data has 2/,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }),
    /F32 needs a Float32Array, got Float64Array/,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: 'F16' as never, shape: [1], data: new Uint16Array(1) as never } }),
    /unsupported dtype "F16"/,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }),
    /non-negative integers/,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } }),
    /non-negative integers/,
  );
  assert.throws(
    () => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
    /reserved/,
  );
  assert.throws(() => encodeSafetensors({}, { a: 1 as unknown as string }), /metadata "a" must be a string/);
  // U8 accepts Uint8ClampedArray and Buffer.
  const b = encodeSafetensors({
    c: { dtype: 'U8', shape: [2], data: new Uint8ClampedArray([3, 4]) },
    d: { dtype: 'U8', shape: [1], data: Buffer.from([9]) },
  });
  assert.deepEqual([...decodeSafetensors(b).tensors['c'].data], [3, 4]);
});

it('safetensors: decode rejects malformed files with clear errors', () => {
  const f32 = (shape: number[], b: number, e: number) => ({ dtype: 'F32', shape, data_offsets: [b, e] });
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /too short/],
    ['header length beyond file', rawFile({}, new Uint8Array(0), { n: 1000n }), /header length 1000 exceeds/],
    ['huge header length', rawFile({}, new Uint8Array(0), { n: 2n ** 63n }), /exceeds/],
    [
      'not JSON',
      (() => {
        const b = rawFile({ a: 1 });
        b[12] = 0x7b;
        b[13] = 0x7b;
        return b;
      })(),
      /not valid JSON/,
    ],
    ['not starting with {', rawFile([1, 2, 3]), /does not start with "\{"/],
    [
      'bad utf-8',
      (() => {
        const b = rawFile({ abc: {} });
        b[10] = 0xff;
        return b;
      })(),
      /UTF-8/,
    ],
    [
      'unknown dtype',
      rawFile({ a: { dtype: 'F16', shape: [4], data_offsets: [0, 8] } }, eight),
      /unsupported dtype "F16"/,
    ],
    ['entry not object', rawFile({ a: 3 }), /tensor "a" entry is not an object/],
    ['missing shape', rawFile({ a: { dtype: 'F32', data_offsets: [0, 8] } }, eight), /no shape/],
    ['bad offsets', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, eight), /data_offsets must be/],
    ['end before begin', rawFile({ a: f32([0], 8, 4) }, eight), /end before begin/],
    ['size mismatch', rawFile({ a: f32([3], 0, 8) }, eight), /needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ['out of range', rawFile({ a: f32([4], 0, 16) }, eight), /run past the 8-byte data section/],
    ['overlap', rawFile({ a: f32([2], 0, 8), b: f32([1], 4, 8) }, eight), /overlaps/],
    ['gap', rawFile({ a: f32([1], 4, 8) }, eight), /gap in the data section: bytes \[0, 4\)/],
    ['trailing bytes', rawFile({ a: f32([1], 0, 4) }, eight), /cover only 4 \(trailing bytes\)/],
    ['metadata not strings', rawFile({ __metadata__: { a: 1 } }), /"__metadata__" value "a" is not a string/],
    ['metadata not object', rawFile({ __metadata__: 'x' }), /must be an object of strings/],
  ];
  for (const [what, buf, re] of cases) {
    assert.throws(
      () => decodeSafetensors(buf, { source: 'f.safetensors' }),
      (e: Error) => {
        assert.ok(e instanceof SafetensorsError, `${what}: ${e}`);
        assert.match(e.message, re, what);
        assert.match(e.message, /^f\.safetensors: invalid safetensors: /, what);
        return true;
      },
      what,
    );
  }
  // Unpadded header (allowed by the format, just not what we write) still reads.
  const unpadded = rawFile({ a: f32([2], 0, 8) }, new Uint8Array(new Float32Array([5, 6]).buffer), { pad: false });
  assert.deepEqual([...decodeSafetensors(unpadded).tensors['a'].data], [5, 6]);
});

it('safetensors: save/load files; load errors name the file', async () => {
  const dir = tmpdir();
  const f = path.join(dir, 'model.safetensors');
  await saveSafetensors(f, sample(), { a: 'b' });
  const back = await loadSafetensors(f);
  assert.deepEqual(back.metadata, { a: 'b' });
  assert.deepEqual(back.tensors['enc.w'].shape, [2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
  await assert.rejects(
    loadSafetensors(path.join(dir, 'missing.safetensors')),
    /safetensors file not found: .*missing\.safetensors/,
  );
  fs.writeFileSync(path.join(dir, 'bad.safetensors'), 'garbage!');
  await assert.rejects(loadSafetensors(path.join(dir, 'bad.safetensors')), /bad\.safetensors: invalid safetensors/);
});

// Python side: reads our file and writes one for us. Uses the `safetensors` package when it is
// installed, otherwise a small struct/json reader/writer with torch.frombuffer / numpy.
const PY = String.raw`
import json, struct, sys
import numpy as np
import torch
ours, theirs = sys.argv[1], sys.argv[2]
try:
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    have_lib = True
except ImportError:
    have_lib = False
TORCH = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "U8": torch.uint8,
         "I64": torch.int64, "I16": torch.int16, "I8": torch.int8}
NAME = {v: k for k, v in TORCH.items()}
if have_lib:
    tensors = load_file(ours)
    with safe_open(ours, framework="pt") as f:
        meta = f.metadata() or {}
else:
    raw = open(ours, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "header not 8-byte aligned"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = TORCH[info["dtype"]]
        chunk = bytearray(data[b:e])
        t = torch.frombuffer(chunk, dtype=dt) if len(chunk) else torch.empty(0, dtype=dt)
        tensors[name] = t.reshape(info["shape"])
out = {"lib": have_lib, "metadata": meta, "tensors": {
    k: {"dtype": NAME[t.dtype], "shape": list(t.shape), "values": [str(v) if t.dtype == torch.int64 else v for v in t.flatten().tolist()]}
    for k, t in tensors.items()}}

w = {
    "conv.weight": (torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 7.0),
    "bias64": torch.tensor([1.5, -2.25, 1e-300], dtype=torch.float64),
    "labels": torch.tensor([[1, -2], [3, 2147483647]], dtype=torch.int32),
    "pixels": torch.tensor([0, 128, 255], dtype=torch.uint8),
    "count": torch.tensor(42, dtype=torch.int64),
}
meta_out = {"format": "pt", "written_by": "python"}
if have_lib:
    save_file(w, theirs, metadata=meta_out)
else:
    order = sorted(w.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header, blobs, off = {"__metadata__": meta_out}, [], 0
    for name, t in order:
        b = t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    hb = json.dumps(header).encode("utf-8")
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    with open(theirs, "wb") as fh:
        fh.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
out["written"] = {k: {"shape": list(t.shape), "values": [str(v) if t.dtype == torch.int64 else v for v in t.flatten().tolist()]} for k, t in w.items()}
print(json.dumps(out))
`;

it('safetensors: interoperates with PyTorch (python3 reads ours, writes one we read)', (t) => {
  const py = '/usr/bin/python3';
  if (!fs.existsSync(py)) return t.skip(`${py} not found`);
  const probe = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip(`python3 has no torch/numpy: ${probe.stderr.trim().split('\n').pop()}`);

  const dir = tmpdir();
  const ours = path.join(dir, 'ours.safetensors');
  const theirs = path.join(dir, 'theirs.safetensors');
  const tensors = sample();
  fs.writeFileSync(ours, encodeSafetensors(tensors, { format: 'pt', who: 'vaekit' }));
  const r = spawnSync(py, ['-c', PY, ours, theirs], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    lib: boolean;
    metadata: Record<string, string>;
    tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
    written: Record<string, { shape: number[]; values: (number | string)[] }>;
  };
  t.diagnostic(
    `python side used ${out.lib ? 'the safetensors package' : 'a struct/json parser + torch.frombuffer (safetensors package not installed)'}`,
  );

  // Python read our file.
  assert.deepEqual(out.metadata, { format: 'pt', who: 'vaekit' });
  assert.deepEqual(Object.keys(out.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, tt] of Object.entries(tensors)) {
    const p = out.tensors[name];
    assert.equal(p.dtype, tt.dtype, name);
    assert.deepEqual(p.shape, tt.shape, name);
    const expected = [...tt.data].map((v) => (typeof v === 'bigint' ? String(v) : v));
    assert.deepEqual(p.values, expected, name); // float32 values print as exact doubles → equal
  }

  // We read Python's file.
  const back = decodeSafetensors(fs.readFileSync(theirs), { source: theirs });
  assert.deepEqual(back.metadata, { format: 'pt', written_by: 'python' });
  assert.deepEqual(Object.fromEntries(Object.entries(back.tensors).map(([k, v]) => [k, v.dtype])), {
    'conv.weight': 'F32',
    bias64: 'F64',
    labels: 'I32',
    pixels: 'U8',
    count: 'I64',
  });
  for (const [name, w] of Object.entries(out.written)) {
    const ours = back.tensors[name];
    assert.deepEqual(ours.shape, w.shape, name);
    assert.deepEqual(
      [...ours.data].map((v) => (typeof v === 'bigint' ? String(v) : v)),
      w.values,
      name,
    );
  }
  const conv = back.tensors['conv.weight'].data as Float32Array;
  assert.equal(conv[23], Math.fround(23 / 7));
});
