/**
 * The agent-runner checkout this command belongs to: found by walking up from this module to the
 * package.json named agent-runner, so it holds from the sources (src/cli/) and from the bundle the
 * launcher builds (bin/agent-runner.mjs, .build/cli/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  root: string;
  version: string;
}

let found: PackageInfo | null = null;

export function packageInfo(): PackageInfo {
  if (found) return found;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'agent-runner') return (found = { root: dir, version: manifest.version ?? '0.0.0' });
    }
    if (dirname(dir) === dir) throw new Error(`agent-runner's package.json was not found above ${fileURLToPath(import.meta.url)}`);
  }
}
