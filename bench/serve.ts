// `vaekit serve` under load: a bounded autocannon run on loopback against /api/decode and /api/reconstruct
// (one row per request), with GET /api/info (JSON out, no model call) on the same server as the peer: the
// ratio says what the model's work costs over fastify's own request handling. Reports requests/s, p99
// latency, errors (non-2xx included; the run fails unless there are none) and the server's resident memory
// after a warm-up and after all the requests.
//
//   node --import tsx bench/serve.ts                         # 50,000 requests per model route, 8 connections
//   node --import tsx bench/serve.ts --requests 20000 --connections 4 --model DIR --backend cpu
//
// Results: a Markdown table on stdout and bench/out/serve.json.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const REQUESTS = Number(flag('requests', '50000'));
const CONNECTIONS = Number(flag('connections', '8'));
const MODEL = path.resolve(flag('model', path.join(ROOT, 'test', 'fixtures', 'models-v1', 'vae')));
const BACKEND = flag('backend', 'auto');

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function load(url: string, route: string, body: unknown | undefined, amount: number, quiet = false) {
  const r = await autocannon({
    url: url + route,
    connections: CONNECTIONS,
    amount,
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const row = {
    route,
    requests: r.requests.total,
    rps: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
  if (!quiet) process.stderr.write(`${JSON.stringify(row)}\n`); // each route as it ends
  return row;
}

async function main(): Promise<void> {
  const meta = JSON.parse(readFileSync(path.join(MODEL, 'config.json'), 'utf8'));
  const D = (meta.config.inputShape as number[]).reduce((a, b) => a * b, 1);
  const d = meta.config.latentDim as number;
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'vaekit.js'),
      'serve',
      MODEL,
      '--port',
      '0',
      '--examples',
      '0',
      '--max-in-flight',
      String(2 * CONNECTIONS),
      '--backend',
      BACKEND,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const on = (b: Buffer) => {
      out += b.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (c) => reject(new Error(`serve exited (${c}):\n${out}`)));
  });
  const backend = out.match(/on backend (\w+)/)?.[1] ?? '?';
  const z = { z: [Array.from({ length: d }, (_, i) => Math.sin(i))] };
  const x = { x: [Array.from({ length: D }, (_, i) => ((i * 7919) % 13) / 12)] };
  try {
    for (const [route, body] of [
      ['/api/decode', z],
      ['/api/reconstruct', x],
      ['/api/info', undefined],
    ] as const)
      await load(url, route, body, 1000, true); // warm-up
    const rss0 = rssMiB(child.pid!);
    const rows = [
      await load(url, '/api/decode', z, REQUESTS),
      await load(url, '/api/reconstruct', x, REQUESTS),
      await load(url, '/api/info', undefined, Math.min(REQUESTS, 20000)),
    ];
    const rss1 = rssMiB(child.pid!);
    const peer = rows[2].rps;
    const total = rows[0].requests + rows[1].requests;
    const result = {
      model: path.relative(ROOT, MODEL),
      kind: meta.config.kind,
      backend,
      connections: CONNECTIONS,
      rows: rows.map((r) => ({ ...r, ratio_to_info: r.rps / peer })),
      model_requests: total,
      rss_mib_before: rss0,
      rss_mib_after: rss1,
      errors: rows.reduce((s, r) => s + r.errors, 0),
    };
    mkdirSync(path.join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench', 'out', 'serve.json'), JSON.stringify(result, null, 2) + '\n');
    const f = (v: number, k = 0) => v.toFixed(k);
    console.log(
      `vaekit serve ${result.model} (${result.kind}, backend ${backend}), ${CONNECTIONS} connections, loopback\n`,
    );
    console.log('| route | requests | req/s | p50 ms | p99 ms | errors | req/s ÷ GET /api/info |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of result.rows)
      console.log(
        `| ${r.route} | ${r.requests} | ${f(r.rps)} | ${f(r.p50_ms, 1)} | ${f(r.p99_ms, 1)} | ${r.errors} | ${f(r.ratio_to_info, 2)} |`,
      );
    console.log(
      `\nserver RSS ${f(rss0, 1)} MiB after the warm-up, ${f(rss1, 1)} MiB after ${total} model requests (${f(rss1 - rss0, 1)} MiB)`,
    );
    if (result.errors > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
  }
}

await main();
