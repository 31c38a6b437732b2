#!/usr/bin/env node
/**
 * The `agent-runner` command (package.json "bin": `npx agent-runner …` in a checkout, or
 * `agent-runner …` after `npm install --global .` or `npm link`). Runs the bundle of src/cli,
 * (re)building it first when it is missing or older than its sources (about a second, once).
 */
import module from 'node:module';
import { pathToFileURL } from 'node:url';
import { buildCli, CLI_BUNDLE, cliBundleStaleness } from '../scripts/build-cli.mjs';

// Node 22.1 and later keep the compiled bundle in a cache between runs (Node 20 has no such cache).
module.enableCompileCache?.();

if (cliBundleStaleness() !== null) {
  try {
    await buildCli();
  } catch (error) {
    console.error(`agent-runner: could not build the command from src/cli (${error.message}). Run npm install, then try again.`);
    process.exit(3);
  }
}
await import(pathToFileURL(CLI_BUNDLE).href);
