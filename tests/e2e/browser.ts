/**
 * What the browser tests share: Debian's Chromium through playwright-core, a TCP proxy between the
 * browser and the server that can cut every connection (a network drop, as the browser sees it), and
 * polling helpers.
 */
import { mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterEach, beforeEach, expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';

/** Chromium, headless; `extraArgs` adds switches (such as `--host-resolver-rules=…` to point a name at 127.0.0.1). */
export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/**
 * A new browser context and page for every test of the file (1280 × 900 unless `options` say
 * otherwise), closed after it; a test fails if the page threw an uncaught error.
 */
export function pagePerTest(browser: () => Browser, options: BrowserContextOptions = {}): { readonly page: Page } {
  let context: BrowserContext | undefined;
  let current: Page | undefined;
  const errors: string[] = [];
  beforeEach(async () => {
    context = await browser().newContext({ viewport: { width: 1280, height: 900 }, ...options });
    current = await context.newPage();
    errors.length = 0;
    current.on('pageerror', (error) => errors.push(error.message));
  });
  afterEach(async () => {
    await context?.close();
    expect(errors, 'uncaught errors in the page').toEqual([]);
  });
  return {
    get page() {
      if (!current) throw new Error('pagePerTest: no page outside a test');
      return current;
    },
  };
}

export const RESULTS = 'test-results';

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface CuttableProxy {
  /** http://127.0.0.1:PORT, forwarding to the target. */
  url: string;
  /** Closes every open connection; while `down`, new ones are closed at once too. */
  cut(options?: { down?: boolean }): void;
  /** Accepts connections again after `cut({ down: true })`. */
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy to `targetUrl` (HTTP and WebSocket alike). */
export async function startProxy(targetUrl: string): Promise<CuttableProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let down = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (down) return void client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    cut({ down: stayDown = false } = {}) {
      down = stayDown;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, what: string, timeoutMs = 20_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every `data-seq` on the page's timeline, in document order. */
export function seqsOnScreen(page: Page): Promise<number[]> {
  return page.locator('.timeline [data-seq]').evaluateAll((elements) => elements.map((e) => Number(e.getAttribute('data-seq'))));
}
