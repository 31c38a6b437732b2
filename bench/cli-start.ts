/**
 * `npx tsx bench/cli-start.ts [rounds]` — how long the `agent-runner` command takes to start and
 * answer, shipped three ways, against the floor of starting `node` at all (`node -e 0`), in one
 * invocation: the esbuild bundle through bin/agent-runner.mjs (what users run), the same sources
 * compiled file by file (as `npm start` compiles the server), and the sources under tsx. Two
 * commands: `--help` (no server) and `projects list` against a real server in this process.
 * Rounds interleave the variants so that load on this shared machine hits them alike; medians and
 * spreads of wall time per run, and the ratio of each median to the floor's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
// @ts-expect-error a plain JavaScript module without types
import { buildCli, CLI_BUNDLE } from '../scripts/build-cli.mjs';
// @ts-expect-error a plain JavaScript module without types
import { compileToJs } from '../scripts/compile-to-js.mjs';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { median } from './lib/stats.js';

const rounds = Number(process.argv[2] ?? 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(os.tmpdir(), 'cli-start-'));

await buildCli();
// Inside the checkout: the command finds its package.json (for --version) by walking up.
const compiled = join(root, '.build', 'cli-start-compiled');
await compileToJs({ dirs: [join(root, 'src')], base: join(root, 'src'), outDir: compiled });

const app = await buildApp(loadConfig({}, { port: 0, databasePath: join(work, 'bench.db'), logLevel: 'silent', disableWorker: true }));
const url = await app.start();

const variants: Record<string, string[]> = {
  'node -e 0 (floor)': ['-e', '0'],
  'bundle (bin/agent-runner.mjs)': [join(root, 'bin', 'agent-runner.mjs')],
  'compiled file by file': [join(compiled, 'cli', 'bin.js')],
  tsx: ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts')],
};
const commands: Record<string, string[]> = { '--help': ['--help'], 'projects list': ['projects', 'list'] };

const times = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [command, args] of Object.entries(commands)) {
    for (const [variant, entry] of Object.entries(variants)) {
      const started = performance.now();
      // Asynchronously: the server answering `projects list` lives in this process's event loop.
      await promisify(execFile)(process.execPath, [...entry, ...(variant.startsWith('node -e') ? [] : args)], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, AGENT_RUNNER_URL: url },
      });
      const key = `${command}\t${variant}`;
      times.set(key, [...(times.get(key) ?? []), performance.now() - started]);
    }
  }
}
await app.stop();
rmSync(work, { recursive: true, force: true });
rmSync(compiled, { recursive: true, force: true });

const fmt = (ms: number) => ms.toFixed(0);
console.log(`${rounds} rounds; Node ${process.version}; ${os.availableParallelism()} cores; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; bundle ${CLI_BUNDLE}`);
console.log('| command | variant | median ms | min–max ms | × floor |');
console.log('| --- | --- | --- | --- | --- |');
for (const command of Object.keys(commands)) {
  const floor = median(times.get(`${command}\tnode -e 0 (floor)`)!);
  for (const variant of Object.keys(variants)) {
    const list = times.get(`${command}\t${variant}`)!;
    console.log(`| ${command} | ${variant} | ${fmt(median(list))} | ${fmt(Math.min(...list))}–${fmt(Math.max(...list))} | ${(median(list) / floor).toFixed(2)} |`);
  }
}
