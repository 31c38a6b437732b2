/**
 * vitest globalSetup: says once, before the tests, whether this machine sandboxes commands. Without a
 * working bubblewrap the tests still pass, but the sandbox is not tested (its tests are skipped, and
 * the server's default, SANDBOX=auto, runs commands unsandboxed): that must not go unnoticed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandLauncher } from '../../src/engine/sandbox.js';

export default async function sandboxBanner(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-banner-'));
  try {
    const { status } = await createCommandLauncher({ setting: 'auto', databasePath: ':memory:', homeFolders: [dir], mavenDir: join(dir, 'm2'), hiddenPaths: [] });
    if (status.active) {
      console.log(`[sandbox] ${status.tool}: the tests' commands run sandboxed, and the sandbox tests run.`);
    } else {
      console.warn(
        `\n[sandbox] *** NO SANDBOX ON THIS MACHINE: the sandbox tests are SKIPPED and commands run unsandboxed.\n[sandbox] ${status.summary}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
