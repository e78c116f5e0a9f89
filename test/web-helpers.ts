// Headless chromium for the browser tests (Debian's /usr/bin/chromium through playwright-core, a fresh profile
// under /tmp each time); screenshots go to test/artifacts/ (gitignored).
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { root } from './serve-helpers.js';

export { root };
export const CHROMIUM = process.env.VAEKIT_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<BrowserContext> {
  mkdirSync(path.join(root, 'test', 'artifacts'), { recursive: true });
  mkdirSync('/tmp/vaekit-test', { recursive: true });
  const profile = mkdtempSync('/tmp/vaekit-test/chromium-profile-');
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1280, height: 800 },
  });
}
