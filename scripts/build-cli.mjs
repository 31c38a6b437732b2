/**
 * Bundles the `agent-runner` command — src/cli/bin.ts and everything it imports, libraries
 * included, tree-shaken — into one file, .build/cli/agent-runner.mjs, which plain `node` starts
 * several times faster than the same code as separate modules or under tsx (bin/README figures in
 * README: The command line). bin/agent-runner.mjs rebuilds it when a file it was built from
 * changed. Plain JavaScript, so it runs before anything is compiled.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The bundle the launcher runs. */
export const CLI_BUNDLE = join(root, '.build', 'cli', 'agent-runner.mjs');
/** The project's own files the bundle was built from (esbuild's metafile inputs), relative to the root; libraries are covered by package-lock.json. */
const INPUTS = join(root, '.build', 'cli', 'inputs.json');

const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY; // gone: rebuild
  }
};

/**
 * Why the bundle must be (re)built — missing, or older than one of the files it was built from or
 * than package-lock.json (libraries installed or upgraded) — or null when it is fresh.
 */
export function cliBundleStaleness() {
  let inputs;
  let built;
  try {
    built = statSync(CLI_BUNDLE).mtimeMs;
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8'));
  } catch {
    return 'no build yet';
  }
  for (const file of [...inputs, 'package-lock.json']) if (mtime(join(root, file)) > built) return `${file} changed`;
  return null;
}

/** Builds the bundle; concurrent builds are safe (each writes its own file, then renames it in place). */
export async function buildCli() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(root, 'src', 'cli', 'bin.ts')],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The libraries' ES module builds where they have one, so what the command does not use is left out.
    mainFields: ['module', 'main'],
    // ws loads these optional native add-ons when present; the bundle uses ws's JavaScript fallback.
    external: ['bufferutil', 'utf-8-validate'],
    // Libraries written as CommonJS call require(): give the bundle one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  });
  mkdirSync(dirname(CLI_BUNDLE), { recursive: true });
  const suffix = `.${process.pid}.tmp`;
  writeFileSync(INPUTS + suffix, JSON.stringify(Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules/'))));
  writeFileSync(CLI_BUNDLE + suffix, result.outputFiles[0].contents);
  renameSync(INPUTS + suffix, INPUTS);
  renameSync(CLI_BUNDLE + suffix, CLI_BUNDLE);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildCli();
