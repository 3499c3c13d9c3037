/**
 * Real headless Chromium (Debian's `chromium` package) driven by playwright-core, for what
 * browsers do: EventSource reconnects, <video> range requests, the HTTP cache.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string {
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) throw new Error('chromium not found: apt-get install -y chromium');
  return found;
}

/** A fresh browser (playwright gives it an empty temporary profile), closed when the test ends. */
export async function launchBrowser(t: TestContext | { after(fn: () => Promise<void> | void): void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      // As root in CI there is no sandbox to enter; the pages are the test's own, on loopback.
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // Without these Chromium tries Google's hosts at start, which this network refuses.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  t.after(() => browser.close());
  return browser;
}
