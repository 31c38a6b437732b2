/**
 * Floor: `sh -c true` spawned from Node, one at a time. Per spawn: the time from spawn() to the
 * child's 'exit' (the floor), and the part of it spent synchronously inside spawn() (fork/exec on
 * the main thread: the event loop is blocked that long). A second variant spawns the way a step
 * needs to (stdout/stderr piped, own process group) and waits for 'close' (pipes drained), for
 * reference. A third measures the plain spawn again after the parent has grown by `ballastMb` of
 * touched memory (about the server's RSS), since fork() cost grows with the parent's size. Two
 * more spawn, the way the second variant does, the argv the product builds for `true` — in a PID
 * namespace of its own (`unshare`, SANDBOX=off here) and in the sandbox (`bwrap`, the default) —
 * the floors of the contained and sandboxed shell steps.
 *
 *   node --import tsx bench/scenarios/floor-spawn.ts '{"count":300}'
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandLauncher } from '../../src/engine/sandbox.js';
import { emitResult, nowMs, parseArgs, roundSummary, summarize } from '../lib/stats.js';

const args = parseArgs({ count: 300, warmup: 10, ballastMb: 220 });

async function measure(options: SpawnOptions, waitFor: 'exit' | 'close', argv: string[] = ['sh', '-c', 'true']) {
  const total: number[] = [];
  const sync: number[] = [];
  for (let i = 0; i < args.warmup + args.count; i++) {
    const t0 = nowMs();
    const child = spawn(argv[0]!, argv.slice(1), options);
    const t1 = nowMs();
    child.stdout?.resume();
    child.stderr?.resume();
    await new Promise<void>((resolve, reject) => {
      child.once(waitFor, () => resolve());
      child.once('error', reject);
    });
    if (i >= args.warmup) {
      total.push(nowMs() - t0);
      sync.push(t1 - t0);
    }
  }
  return { total: roundSummary(summarize(total)), spawnSync: roundSummary(summarize(sync)) };
}

const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const plain = { ...(await measure({ stdio: 'ignore' }, 'exit')), rssMb: rssMb() };
const piped = await measure({ stdio: ['ignore', 'pipe', 'pipe'], detached: true }, 'close');

// The product's argv for `true`, contained and sandboxed (null where this machine cannot).
const dir = mkdtempSync(join(tmpdir(), 'floor-spawn-'));
async function productArgv(setting: 'off' | 'on') {
  const launcher = await createCommandLauncher({ setting, databasePath: join(dir, 'db'), homeFolders: [dir], mavenDir: join(dir, 'm2'), hiddenPaths: [] }).catch(() => null);
  if (!launcher || launcher.status.containment !== 'pid-namespace') return null;
  const launch = await launcher.prepare({ command: 'true', cwd: dir, env: process.env, runId: 0, network: true });
  return { argv: launch.argv, env: launch.env as NodeJS.ProcessEnv };
}
const contained = await productArgv('off');
const sandboxArgv = await productArgv('on');
const pidNamespace = contained ? await measure({ stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: contained.env, cwd: dir }, 'close', contained.argv) : null;
const sandbox = sandboxArgv ? await measure({ stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: sandboxArgv.env, cwd: dir }, 'close', sandboxArgv.argv) : null;
rmSync(dir, { recursive: true, force: true });
// fork() copies the parent's page tables: the same spawn from a parent grown to the server's size.
const ballast: Buffer[] = [];
for (let i = 0; i < args.ballastMb; i++) ballast.push(Buffer.alloc(1 << 20, 1));
const big = { ...(await measure({ stdio: 'ignore' }, 'exit')), rssMb: rssMb() };
emitResult({ scenario: 'floor-spawn', count: args.count, plain, piped, pidNamespace, sandbox, bigParent: big, ballastMb: ballast.length });
