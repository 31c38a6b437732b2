/**
 * Compiles src/ and bench/ to JavaScript in bench/.build/ (the same tree: bench/.build/src/…,
 * bench/.build/bench/…), so the scenarios run the server as `npm start` does — plain node, no
 * TypeScript loader, whose thread would add ~40 MB to every figure of memory and to every fork.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileToJs } from '../../scripts/compile-to-js.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = join(ROOT, 'bench', '.build');

export async function compileForBench() {
  await compileToJs({ dirs: [join(ROOT, 'src'), join(ROOT, 'bench')], base: ROOT, outDir: BUILD_DIR });
}
