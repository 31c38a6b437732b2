/**
 * Compiles the server (src/**\/*.ts) to plain JavaScript in dist/, one file per source file, so
 * `npm start` runs it with plain `node`: under tsx the server carries a TypeScript loader thread
 * (about 40 MB more memory, and every command a step spawns forks that much more). Takes well
 * under a second, so `npm start` simply rebuilds every time and dist/ is never stale.
 * Plain JavaScript (not TypeScript) so it runs before anything is compiled.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const files = filesUnder(src);
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')),
  outdir: out,
  outbase: src,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
// Plain JavaScript the server starts as a process of its own (the command spawner) goes as it is.
for (const file of files.filter((file) => file.endsWith('.mjs') || file.endsWith('.js'))) {
  const target = join(out, relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
