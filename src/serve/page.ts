// The explorer page: web/index.html and web/explorer.ts bundled for the browser by esbuild's build API, in
// memory (nothing written; the same bundle from the same sources and the lockfile's esbuild).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

let cached: Promise<{ html: string; script: string }> | null = null;

/** The bundled script of a browser entry file (web/explorer.ts by default). */
export async function bundleScript(entry = path.join(WEB_DIR, 'explorer.ts'), minify = true): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('the explorer page is bundled with esbuild: install it (npm ci installs it with vaekit)');
  }
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

/** The page's HTML and script (built once per process). */
export function explorerPage(): Promise<{ html: string; script: string }> {
  cached ??= (async () => ({
    html: await readFile(path.join(WEB_DIR, 'index.html'), 'utf8'),
    script: await bundleScript(),
  }))();
  return cached;
}
