/**
 * Once before the browser tests: Chromium must be there, and the console is built (only when its
 * build is missing or older than its sources).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { ensureConsoleBuilt } from '../../src/http/console.js';
import { CHROMIUM } from './browser.js';

export default async function setup(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run "apt-get update && apt-get install -y chromium" (npx playwright install cannot work here).`);
  }
  await ensureConsoleBuilt({ log: (line) => console.log(line) });
  mkdirSync('test-results', { recursive: true });
}
