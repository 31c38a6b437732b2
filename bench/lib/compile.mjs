/**
 * Compiles src/ and bench/ to JavaScript in bench/.build/ (the same tree: bench/.build/src/…,
 * bench/.build/bench/…), so the scenarios run the server as `npm start` does — plain node, no
 * TypeScript loader, whose thread would add ~40 MB to every figure of memory and to every fork.
 * Plain JavaScript files (.mjs) are copied as they are.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = join(ROOT, 'bench', '.build');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === '.build' || entry.name === 'profiles') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

export async function compileForBench() {
  const files = [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'bench'))];
  rmSync(BUILD_DIR, { recursive: true, force: true });
  await build({
    entryPoints: files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')),
    outdir: BUILD_DIR,
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  for (const file of files.filter((file) => file.endsWith('.mjs'))) {
    const target = join(BUILD_DIR, relative(ROOT, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
}
