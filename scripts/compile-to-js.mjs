/**
 * Compiles the TypeScript files under `dirs` to JavaScript in `outDir`, one file per source file
 * and the same tree below `base`; plain JavaScript files (.mjs, .js: the command spawner's helper,
 * which runs as a process of its own) and data files (.yaml, .yml, .json: the built-in workflow
 * definitions) are copied as they are. Used by `npm start`
 * (scripts/build-server.mjs) and `npm run bench` (bench/lib/compile.mjs). Plain JavaScript, so it
 * runs before anything is compiled.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

/** Folders never compiled: earlier outputs and profiles. */
const SKIPPED = new Set(['.build', 'profiles']);

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** Empties `outDir`, then compiles into it. */
export async function compileToJs({ dirs, base, outDir, sourcemap = false }) {
  const files = dirs.flatMap(filesUnder);
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')),
    outdir: outDir,
    outbase: base,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap,
    logLevel: 'warning',
  });
  for (const file of files.filter((file) => /\.(mjs|js|ya?ml|json)$/.test(file))) {
    const target = join(outDir, relative(base, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
}
