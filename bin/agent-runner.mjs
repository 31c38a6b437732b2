#!/usr/bin/env node
/**
 * The `agent-runner` command (package.json "bin": `npx agent-runner …` in a checkout, or
 * `agent-runner …` after `npm install --global .` or `npm link`). Runs the bundle of src/cli,
 * (re)building it first when it is missing or older than its sources (about a second, once).
 */
import { pathToFileURL } from 'node:url';
import { buildCli, CLI_BUNDLE, cliBundleStaleness } from '../scripts/build-cli.mjs';

if (cliBundleStaleness() !== null) {
  try {
    await buildCli();
  } catch (error) {
    console.error(`agent-runner: could not build the command from src/cli (${error.message}). Run npm install, then try again.`);
    process.exit(3);
  }
}
await import(pathToFileURL(CLI_BUNDLE).href);
