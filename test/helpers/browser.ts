/**
 * Real headless Chromium for end-to-end tests: Debian's `chromium` (installed by scripts/test.ts) driven by
 * `playwright-core`, which brings no browser of its own. Certificates of test gateways are self-signed, so a
 * context ignores HTTPS errors; everything else is the browser as a user runs it.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.POSTERN_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium (npm test does) or set POSTERN_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root (CI) Chromium's sandbox cannot start; the tests load only pages they serve themselves.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}
