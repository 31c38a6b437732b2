/**
 * Compiles the server (src/**\/*.ts) to plain JavaScript in dist/, one file per source file, so
 * `npm start` runs it with plain `node`: under tsx the server carries a TypeScript loader thread
 * (about 40 MB more memory, and every command a step spawns forks that much more). Takes well
 * under a second, so `npm start` simply rebuilds every time and dist/ is never stale.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileToJs } from './compile-to-js.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
await compileToJs({ dirs: [join(root, 'src')], base: join(root, 'src'), outDir: join(root, 'dist'), sourcemap: true });
