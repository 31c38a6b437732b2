/**
 * `npm run bench` — the floors and the product on the same workload, in one invocation, on this
 * machine; prints the table and writes bench/results.json (and bench/results.md, the same tables).
 * `npm run bench -- --quick` is a ~1–2 minute version (fewer points, shorter phases);
 * `--only=floors,engine,throughput,fanout,ws,spawnStream,flood` runs some sections (written to
 * bench/results.partial.*; `ws` takes the product rates from `fanout` of the same run).
 *
 * Every scenario runs in a fresh process, one after the other, compiled to JavaScript as `npm start`
 * runs the server (`node --expose-gc bench/.build/bench/scenarios/….js`, built first by
 * bench/lib/compile.mjs), not under tsx; subscribers live in yet another process (bench/subscribers.ts), so the process
 * whose CPU (process.cpuUsage) and event-loop delay are measured is the server alone.
 * See bench/README.md for the method.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
// @ts-expect-error a plain JavaScript module without types
import { BUILD_DIR, compileForBench } from './lib/compile.mjs';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice(7).split(',')) : null;
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const started = Date.now();
await compileForBench();
/** A scenario's compiled file (see lib/compile.mjs). */
const compiledScenario = (script: string) => `${BUILD_DIR}/bench/scenarios/${script.replace(/\.ts$/, '.js')}`;

const P = quick
  ? {
      spawn: { count: 100 },
      sqlite: { reps: 1, singleEvents: 1000, groupEvents: 10000 },
      engine: { pickupRuns: 15, dispatchRuns: 3, shellRuns: 2 },
      throughput: { reps: 1, satEvents: 10000 },
      fanoutPoints: [
        [1, 1],
        [100, 10],
        [1000, 100],
      ] as Array<[number, number]>,
      fanout: { warmupMs: 500, satMs: 1500, latMs: 1500 },
      ws: { satMs: 1500, latMs: 1500, warmupMs: 300 },
      spawnStream: { reps: 1, phaseMs: 2500 },
      flood: { floodSeconds: 8, reps: 1 },
    }
  : {
      spawn: { count: 300 },
      sqlite: { reps: 3, singleEvents: 3000, groupEvents: 30000 },
      engine: { pickupRuns: 60, dispatchRuns: 10, shellRuns: 5 },
      throughput: { reps: 3, satEvents: 30000 },
      fanoutPoints: [1, 100, 1000].flatMap((n) => [1, 10, 100].map((r) => [n, r] as [number, number])),
      fanout: { warmupMs: 1000, satMs: 4000, latMs: 4000 },
      ws: { satMs: 3000, latMs: 4000, warmupMs: 500 },
      spawnStream: { reps: 3, phaseMs: 5000 },
      flood: { floodSeconds: 15, reps: 2 },
    };

// ------------------------------------------------------------------------------------------------
// Running scenarios

type Json = any; // results are plain JSON produced by the scenario scripts

function log(message: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

/** Jiffies of the whole machine from /proc/stat: [busy, total]. */
function cpuJiffies(): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.reduce((a, v) => a + v, 0);
  return [total - idle, total];
}

async function scenario(script: string, params: Record<string, unknown> = {}, timeoutMs = 240_000): Promise<Json> {
  const name = `${script} ${JSON.stringify(params)}`;
  const t0 = Date.now();
  const load = os.loadavg()[0];
  const j0 = cpuJiffies();
  const path = script.endsWith('.mjs') ? `${BENCH}scenarios/${script}` : compiledScenario(script);
  const child = spawn(process.execPath, ['--expose-gc', path, JSON.stringify(params)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
  if (!line) {
    log(`FAILED ${name} (exit ${code}): ${out.slice(-500)}`);
    return { scenario: script, error: `exit ${code}`, params };
  }
  const j1 = cpuJiffies();
  // Whole-machine CPU use during the scenario, in cores (ours + everyone else's on this shared machine).
  const machineCores = Math.round(((j1[0] - j0[0]) / Math.max(1, j1[1] - j0[1])) * os.availableParallelism() * 100) / 100;
  log(`${name} — ${((Date.now() - t0) / 1000).toFixed(1)} s (load average ${load.toFixed(2)}, machine busy ${machineCores} cores)`);
  return { ...JSON.parse(line.slice('@@RESULT '.length)), env: { loadAverage1m: load, machineBusyCores: machineCores, seconds: (Date.now() - t0) / 1000 } };
}

const want = (key: string) => !only || only.has(key);

/** The code measured: commit and whether src/ differs from it (others edit src/ while this runs). */
function codeState() {
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', a, { cwd: `${BENCH}..` }).toString().trim();
    } catch {
      return '';
    }
  };
  return { commit: git('rev-parse', '--short', 'HEAD'), subject: git('log', '-1', '--format=%s'), srcChanges: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length };
}
const results: Json = { quick, startedAt: new Date().toISOString(), machine: machine(), code: codeState(), params: P };
log(`${quick ? 'quick' : 'full'} run; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

if (want('floors')) {
  results.rssImports = [await scenario('rss-imports.mjs'), await scenarioTsx('rss-imports.mjs')];
  results.floorSpawn = await scenario('floor-spawn.ts', P.spawn);
  results.floorSqlite = [];
  for (let i = 0; i < P.sqlite.reps; i++) results.floorSqlite.push(await scenario('floor-sqlite.ts', { singleEvents: P.sqlite.singleEvents, groupEvents: P.sqlite.groupEvents }));
}
if (want('engine')) results.engine = await scenario('engine.ts', P.engine);
if (want('throughput')) {
  results.throughput = [];
  for (let i = 0; i < P.throughput.reps; i++) {
    results.throughput.push(await scenario('fanout.ts', { n: 1, runs: 1, satEvents: P.throughput.satEvents, warmupMs: 1000, skipLatency: true }));
  }
}
if (want('fanout')) {
  results.fanout = [];
  for (const [n, runs] of P.fanoutPoints) results.fanout.push(await scenario('fanout.ts', { n, runs, ...P.fanout }));
}
if (want('ws')) {
  // The raw ws floor, at its own half saturation and at the delivery rates the product was measured at.
  results.floorWs = [];
  for (const n of [1, 100, 1000]) {
    const rates = (results.fanout ?? []).filter((p: Json) => p.n === n && p.fixed).map((p: Json) => nominalDeliveryRate(p));
    results.floorWs.push(await scenario('floor-ws.ts', { n, ...P.ws, deliveryRates: rates }));
  }
}
if (want('spawnStream')) {
  results.spawnStream = await scenario('spawn-stream.ts', { ...P.spawnStream, sandbox: 'off' });
  if (results.engine?.shellSandboxed || !want('engine')) results.spawnStreamSandboxed = await scenario('spawn-stream.ts', { ...P.spawnStream, sandbox: 'on' });
}
if (want('flood')) results.flood = await scenario('flood.ts', P.flood);
results.finishedAt = new Date().toISOString();
results.codeAtEnd = codeState();
if (JSON.stringify(results.codeAtEnd) !== JSON.stringify(results.code)) log(`WARNING: the code changed during the run (${JSON.stringify(results.code)} → ${JSON.stringify(results.codeAtEnd)}): rerun for consistent figures`);
results.loadAverageEnd = os.loadavg();
results.totalSeconds = Math.round((Date.now() - started) / 1000);

async function scenarioTsx(script: string): Promise<Json> {
  const t0 = Date.now();
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${BENCH}scenarios/${script}`]).toString();
  log(`${script} (under tsx) — ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return JSON.parse(out.split('\n').find((l) => l.startsWith('@@RESULT '))!.slice(9));
}

/** Deliveries/s of a fan-out point's fixed-rate phase (events/s × runEvents subscribers per run). */
function nominalDeliveryRate(p: Json): number {
  return (p.fixed.rateEventsPerSec * p.subscribers.runEvents) / p.runs;
}

// ------------------------------------------------------------------------------------------------
// The table

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let free = '';
  try {
    free = execFileSync('free', ['-h']).toString().trim();
  } catch {
    free = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total`;
  }
  return { nproc: os.availableParallelism(), cpuModel: model, free, node: process.version, platform: `${os.type()} ${os.release()}`, loadAverageStart: os.loadavg() };
}

const fmt = (v: unknown, digits = 3): string => {
  if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) return '—';
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(digits)));
};
const med = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Number.NaN;
};
const spread = (xs: number[]) => (xs.length > 1 ? `${fmt(med(xs))} [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]` : fmt(xs[0]));

interface Row {
  measure: string;
  floor: string;
  product: string;
  ratio: string;
  target: string;
  met: string;
}
const rows: Row[] = [];
const verdict = (ok: boolean | null, correct = true) => (!correct ? 'FAILED' : ok === null ? '—' : ok ? 'yes' : 'NO');

function table(headers: string[], body: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const e = results.engine;
if (e && !e.error) {
  const ok = e.correctness.ok;
  rows.push({ measure: 'run pickup p50 (createRun → WORKFLOW_STARTED stored), ms', floor: '—', product: fmt(e.pickup.toWorkflowStartedStoredMs.p50), ratio: '—', target: '≤ 10 ms', met: verdict(e.pickup.toWorkflowStartedStoredMs.p50 <= 10, ok) });
  rows.push({ measure: 'run pickup p99, ms', floor: '—', product: fmt(e.pickup.toWorkflowStartedStoredMs.p99), ratio: '—', target: '≤ 50 ms', met: verdict(e.pickup.toWorkflowStartedStoredMs.p99 <= 50, ok) });
  rows.push({ measure: 'step dispatch p50 (STEP_COMPLETED → next STEP_STARTED), ms', floor: '—', product: `${fmt(e.dispatch.gapPublishedMs.p50)} (p99 ${fmt(e.dispatch.gapPublishedMs.p99)})`, ratio: '—', target: '≤ 2 ms', met: verdict(e.dispatch.gapPublishedMs.p50 <= 2, ok) });
  if (e.dispatch.parallel) {
    const { parallel, chain } = e.dispatch;
    rows.push({
      measure: 'step dispatch p50, ready → STEP_STARTED: 20 independent steps (maxParallel 20) vs 20 in a chain, ms',
      floor: fmt(chain.readyToStartedMs.p50),
      product: `${fmt(parallel.readyToStartedMs.p50)} (p99 ${fmt(parallel.readyToStartedMs.p99)})`,
      ratio: `${fmt(parallel.readyToStartedMs.p50 / chain.readyToStartedMs.p50)}×`,
      target: '(info)',
      met: '—',
    });
    rows.push({ measure: 'whole run p50, 20 FILE_WRITE steps: independent (maxParallel 20) vs chain, ms', floor: fmt(chain.runMs.p50), product: fmt(parallel.runMs.p50), ratio: `${fmt(parallel.runMs.p50 / chain.runMs.p50)}×`, target: '(info)', met: '—' });
  }
  const floor = results.floorSpawn?.plain?.total?.p50;
  const product = e.shell.stepPublishedMs.p50;
  // Per-step time is the whole cycle, the step and the gap to the next one: the step starts without
  // waiting for STEP_STARTED's commit, so the STEP_STARTED → STEP_COMPLETED window alone leaves part
  // of the engine's per-step work outside (shown as info).
  const cycle = e.shell.stepPublishedMs.p50 + e.shell.gapPublishedMs.p50;
  const contained = e.shell.containment === 'pid-namespace' ? ' (SANDBOX=off: a PID namespace per command)' : ' (SANDBOX=off)';
  rows.push({ measure: `shell step \`true\` p50, per-step time (STEP_STARTED → STEP_COMPLETED + gap to the next STEP_STARTED) vs \`sh -c true\`${contained}, ms`, floor: fmt(floor), product: fmt(cycle), ratio: `${fmt(cycle / floor)}×`, target: '≤ 1.5×', met: verdict(cycle / floor <= 1.5, ok) });
  rows.push({ measure: `shell step \`true\` p50, STEP_STARTED → STEP_COMPLETED only${contained}, ms`, floor: fmt(floor), product: fmt(product), ratio: `${fmt(product / floor)}×`, target: '(info)', met: '—' });
  const nsFloor = results.floorSpawn?.pidNamespace?.total?.p50;
  if (nsFloor) rows.push({ measure: 'same per-step time vs the same argv spawned from Node (`unshare … sh -c true`, pipes, own group), ms', floor: fmt(nsFloor), product: fmt(cycle), ratio: `${fmt(cycle / nsFloor)}×`, target: '(info)', met: '—' });
  const sb = e.shellSandboxed;
  const sbFloor = results.floorSpawn?.sandbox?.total?.p50;
  if (sb && sbFloor) {
    const sbCycle = sb.stepPublishedMs.p50 + sb.gapPublishedMs.p50;
    rows.push({ measure: `shell step \`true\` p50 in the sandbox (${sb.tool}, the default), per-step time vs the same \`bwrap … sh -c true\` spawned from Node, ms`, floor: fmt(sbFloor), product: fmt(sbCycle), ratio: `${fmt(sbCycle / sbFloor)}×`, target: '(info)', met: '—' });
  }
}
const sqliteGroup = (results.floorSqlite ?? []).filter((r: Json) => !r.error).map((r: Json) => r.group.eventsPerSec);
const tp = (results.throughput ?? []).filter((r: Json) => !r.error);
if (tp.length && sqliteGroup.length) {
  const product = tp.map((r: Json) => r.sat.emitsPerSec);
  const ok = tp.every((r: Json) => r.correctness.ok);
  rows.push({ measure: 'events/s persisted + delivered, 1 subscriber (vs raw SQLite group commit)', floor: spread(sqliteGroup), product: spread(product), ratio: `${fmt((med(product) / med(sqliteGroup)) * 100)} %`, target: '≥ 50 %', met: verdict(med(product) / med(sqliteGroup) >= 0.5, ok) });
  const floorCpu = (results.floorSqlite ?? []).filter((r: Json) => !r.error).map((r: Json) => r.group.cpuUsPerEvent);
  const cpu = tp.map((r: Json) => r.sat.cpuUsPerEmit);
  rows.push({ measure: 'server CPU per event, 1 subscriber, µs (vs raw SQLite group commit)', floor: spread(floorCpu), product: spread(cpu), ratio: `${fmt(med(cpu) / med(floorCpu))}×`, target: '(info)', met: '—' });
}
const wsBy = new Map<number, Json>((results.floorWs ?? []).filter((r: Json) => !r.error).map((r: Json) => [r.n, r]));
const fan = (results.fanout ?? []).filter((r: Json) => !r.error);
for (const p of fan) {
  const ws = wsBy.get(p.n);
  // With one subscriber and several runs most events go to runs nobody watches: CPU per delivery says little.
  if (!ws || (p.n === 1 && p.runs > 1)) continue;
  const ratio = p.sat.cpuUsPerDelivery / ws.sat.cpuUsPerDelivery;
  const hasTarget = p.n >= 100;
  rows.push({ measure: `server CPU per delivery, N=${p.n}, ${p.runs} run(s), µs (saturation)`, floor: fmt(ws.sat.cpuUsPerDelivery), product: fmt(p.sat.cpuUsPerDelivery), ratio: `${fmt(ratio)}×`, target: hasTarget ? '≤ 3×' : '(info)', met: hasTarget ? verdict(ratio <= 3, p.correctness.ok) : verdict(null, p.correctness.ok) });
}
for (const p of fan) {
  const ws = wsBy.get(p.n);
  if (!ws || !p.fixed) continue;
  const rate = nominalDeliveryRate(p);
  const at = ws.extra?.find((x: Json) => Math.abs(x.deliveriesPerSec - rate) / rate < 0.02);
  if (!at) continue;
  const ratio = p.fixed.latency.p99 / at.latency.p99;
  rows.push({ measure: `delivery latency p99 at half saturation, N=${p.n}, ${p.runs} run(s) (${fmt(rate)} deliveries/s), ms`, floor: fmt(at.latency.p99), product: fmt(p.fixed.latency.p99), ratio: `${fmt(ratio)}×`, target: '≤ 3×', met: verdict(ratio <= 3, p.correctness.ok) });
}
const ss = results.spawnStream;
if (ss && !ss.error) {
  const ratio = ss.shellP99.median / ss.idleP99.median;
  rows.push({ measure: `spawning while streaming: latency p99 to 100 subscribers, ${fmt(ss.shellStepsPerSec.median)} shell steps/s vs none, ms`, floor: spread(ss.phases.filter((x: Json) => x.kind === 'idle').map((x: Json) => x.p99)), product: spread(ss.phases.filter((x: Json) => x.kind === 'shell').map((x: Json) => x.p99)), ratio: `${fmt(ratio)}×`, target: '≤ 2×', met: verdict(ratio <= 2, ss.correctness.ok) });
}
const ssb = results.spawnStreamSandboxed;
if (ssb && !ssb.error) {
  const ratio = ssb.shellP99.median / ssb.idleP99.median;
  rows.push({ measure: `spawning while streaming, sandboxed shell steps (${fmt(ssb.shellStepsPerSec.median)}/s in bwrap) vs none, latency p99, ms`, floor: spread(ssb.phases.filter((x: Json) => x.kind === 'idle').map((x: Json) => x.p99)), product: spread(ssb.phases.filter((x: Json) => x.kind === 'shell').map((x: Json) => x.p99)), ratio: `${fmt(ratio)}×`, target: '(info)', met: verdict(null, ssb.correctness.ok) });
}
const fl = results.flood;
if (fl && !fl.error) {
  const ok = fl.correctness.ok;
  const of = (kind: string, pick: (p: Json) => number) => fl.phases.filter((p: Json) => p.kind === kind).map(pick);
  const pair = (pick: (p: Json) => number) => ({ silent: of('silent', pick), flood: of('flood', pick) });
  const q = pair((p) => p.query.p99);
  rows.push({ measure: `\`run\` query p99 (${fl.params.queryRate}/s from another process) while a step floods (\`yes\`, ${fmt(med(of('flood', (p) => p.outputMbPerSec)))} MB/s read) vs the same step silent, ms`, floor: spread(q.silent), product: spread(q.flood), ratio: `${fmt(med(q.flood) / med(q.silent))}×`, target: '≤ 2×', met: verdict(med(q.flood) / med(q.silent) <= 2, ok) });
  const d = pair((p) => p.delivery?.p99 ?? Number.NaN);
  rows.push({ measure: 'runEvents delivery p99 to a subscriber of another run, flood vs silent, ms', floor: spread(d.silent), product: spread(d.flood), ratio: `${fmt(med(d.flood) / med(d.silent))}×`, target: '(info)', met: '—' });
  const o = pair((p) => p.otherRunMs);
  rows.push({ measure: `another run of ${fl.params.otherSteps} shell steps, duration, flood vs silent, ms`, floor: spread(o.silent), product: spread(o.flood), ratio: `${fmt(med(o.flood) / med(o.silent))}×`, target: '≤ 1.5×', met: verdict(med(o.flood) / med(o.silent) <= 1.5, ok) });
  const r = pair((p) => p.rssPeakMb);
  rows.push({ measure: `server RSS peak during the phase, flood vs silent, MB (at start: ${fmt(fl.rssBaseMb)})`, floor: spread(r.silent), product: spread(r.flood), ratio: `+${fmt(med(r.flood) - med(r.silent))} MB`, target: '≤ +64 MB', met: verdict(med(r.flood) - med(r.silent) <= 64, ok) });
  const g = pair((p) => p.dbGrowthMb);
  const limitMb = fl.outputLimitBytes / 2 ** 20;
  rows.push({ measure: `database growth per run (file + WAL), flood (${fmt(med(of('flood', (p) => p.outputBytes)) / 2 ** 30)} GB of output, COMMAND_OUTPUT_LIMIT_BYTES ${fmt(limitMb)} MiB) vs silent, MB`, floor: spread(g.silent), product: spread(g.flood), ratio: '—', target: `≤ ${fmt(3 * limitMb)} MB`, met: verdict(med(g.flood) <= 3 * limitMb, ok) });
  const c = pair((p) => p.helperCores);
  rows.push({ measure: 'CPU of the command runner (helper) while its command floods, cores (server cores; machine busy)', floor: spread(c.silent), product: `${spread(c.flood)} (${fmt(med(of('flood', (p) => p.serverCores)))}; ${fmt(med(of('flood', (p) => p.machineBusy)) * 100)} %)`, ratio: '—', target: '(info)', met: '—' });
}
const big = fan.filter((p: Json) => p.n === 1000);
if (big.length) {
  const perConn = big.map((p: Json) => p.memory.perConnKb);
  rows.push({ measure: 'memory per idle subscriber (RSS delta / 1000 connections), KB', floor: fmt(wsBy.get(1000)?.memory.perConnKb), product: spread(perConn), ratio: '—', target: '≤ 50 KB', met: verdict(med(perConn) <= 50, big.every((p: Json) => p.correctness.ok)) });
  const p = big.find((x: Json) => x.runs === 100);
  if (p) rows.push({ measure: `RSS with 1000 subscribers and 100 runs, under load, MB (idle before subscribers: ${fmt(p.memory.rssBaseMb)})`, floor: '—', product: fmt(p.rssLoadedMb), ratio: '—', target: '≤ 300 MB', met: verdict(p.rssLoadedMb <= 300, p.correctness.ok) });
}
const allPoints: Json[] = [results.engine, ...tp, ...fan, results.spawnStream, results.spawnStreamSandboxed, results.flood, ...(results.floorWs ?? []), ...(results.floorSqlite ?? [])].filter(Boolean);
const failedPoints = allPoints.filter((r) => r.error || !r.correctness?.ok);
rows.push({ measure: 'correctness: every subscriber got every event of its run once, in seq order; stored log gapless', floor: '—', product: `${allPoints.length - failedPoints.length}/${allPoints.length} points OK`, ratio: '—', target: 'all', met: failedPoints.length === 0 ? 'yes' : 'FAILED' });
results.table = rows;

// Detail tables.
const details: string[] = [];
if (results.floorSpawn && !results.floorSpawn.error) {
  const f = results.floorSpawn;
  details.push('### Floor: `sh -c true` from Node, one at a time (ms)\n');
  details.push(table(['variant', 'spawn → exit p50', 'p99', 'min–max', 'sync part of spawn() p50', 'p99'], [
    ['stdio ignored (the floor)', fmt(f.plain.total.p50), fmt(f.plain.total.p99), `${fmt(f.plain.total.min)}–${fmt(f.plain.total.max)}`, fmt(f.plain.spawnSync.p50), fmt(f.plain.spawnSync.p99)],
    ['pipes + own process group, until close', fmt(f.piped.total.p50), fmt(f.piped.total.p99), `${fmt(f.piped.total.min)}–${fmt(f.piped.total.max)}`, fmt(f.piped.spawnSync.p50), fmt(f.piped.spawnSync.p99)],
    ...(f.pidNamespace ? [['the same, the product\'s argv in a PID namespace (`unshare … sh -c true`, SANDBOX=off)', fmt(f.pidNamespace.total.p50), fmt(f.pidNamespace.total.p99), `${fmt(f.pidNamespace.total.min)}–${fmt(f.pidNamespace.total.max)}`, fmt(f.pidNamespace.spawnSync.p50), fmt(f.pidNamespace.spawnSync.p99)]] : []),
    ...(f.sandbox ? [['the same, the product\'s argv in the sandbox (`bwrap … sh -c true`)', fmt(f.sandbox.total.p50), fmt(f.sandbox.total.p99), `${fmt(f.sandbox.total.min)}–${fmt(f.sandbox.total.max)}`, fmt(f.sandbox.spawnSync.p50), fmt(f.sandbox.spawnSync.p99)]] : []),
    ...(f.bigParent ? [[`stdio ignored, parent grown to ${f.bigParent.rssMb} MB RSS (was ${f.plain.rssMb})`, fmt(f.bigParent.total.p50), fmt(f.bigParent.total.p99), `${fmt(f.bigParent.total.min)}–${fmt(f.bigParent.total.max)}`, fmt(f.bigParent.spawnSync.p50), fmt(f.bigParent.spawnSync.p99)]] : []),
    ...(results.engine?.shell?.rawSpawnInServer ? [(() => { const r = results.engine.shell.rawSpawnInServer; return [`for comparison: the same, spawned by the running server itself, as before the spawner helper (${r.rssMb} MB RSS)`, fmt(r.total.p50), fmt(r.total.p99), `${fmt(r.total.min)}–${fmt(r.total.max)}`, fmt(r.spawnSync.p50), fmt(r.spawnSync.p99)]; })()] : []),
    ...(results.engine?.shell?.execaInServer ? [(() => { const r = results.engine.shell.execaInServer; return ['for comparison: execa with the options SHELL_COMMAND used before the spawner helper, inside the server', fmt(r.total.p50), fmt(r.total.p99), `${fmt(r.total.min)}–${fmt(r.total.max)}`, fmt(r.spawnSync.p50), fmt(r.spawnSync.p99)]; })()] : []),
  ]));
}
const sq = (results.floorSqlite ?? []).filter((r: Json) => !r.error);
if (sq.length) {
  details.push('\n### Floor: raw SQLite (node-sqlite3, WAL, synchronous=NORMAL), median [min–max] over repetitions\n');
  details.push(table(['mode', 'events/s', 'CPU µs/event', 'notes'], [
    ['one transaction per event', spread(sq.map((r: Json) => r.perEvent.eventsPerSec)), spread(sq.map((r: Json) => r.perEvent.cpuUsPerEvent)), `commit p50 ${fmt(med(sq.map((r: Json) => r.perEvent.commitP50Ms)))} ms, p99 ${fmt(med(sq.map((r: Json) => r.perEvent.commitP99Ms)))} ms`],
    ['group commit, multi-row INSERT … RETURNING id (500 rows/statement)', spread(sq.map((r: Json) => r.group.multirow.eventsPerSec)), spread(sq.map((r: Json) => r.group.multirow.cpuUsPerEvent)), `batch p50 ${fmt(med(sq.map((r: Json) => r.group.multirow.batchP50)))} events`],
    ['group commit, prepared statement per row', spread(sq.map((r: Json) => r.group.prepared.eventsPerSec)), spread(sq.map((r: Json) => r.group.prepared.cpuUsPerEvent)), `batch p50 ${fmt(med(sq.map((r: Json) => r.group.prepared.batchP50)))} events`],
  ]));
}
if (wsBy.size) {
  details.push('\n### Floor: raw `ws` broadcast (one ~210-byte message, encoded once, sent to N clients)\n');
  details.push(table(['N', 'saturation deliveries/s [1-s slices min–max]', 'CPU µs/delivery', 'server / client cores', 'half-sat rate msgs/s', 'latency p50 / p99 ms', 'at product rates (deliveries/s: p50 / p99 ms)', 'memory/conn KB'], [...wsBy.values()].map((w: Json) => [
    String(w.n),
    `${fmt(w.sat.deliveriesPerSec)} [${fmt(Math.min(...w.sat.slices.deliveriesPerSec))}–${fmt(Math.max(...w.sat.slices.deliveriesPerSec))}]`,
    fmt(w.sat.cpuUsPerDelivery),
    `${fmt(w.sat.cpuCores)} / ${fmt(w.sat.clientCores)}`,
    fmt(w.half.messagesPerSec),
    `${fmt(w.half.latency.p50)} / ${fmt(w.half.latency.p99)}`,
    (w.extra ?? []).map((x: Json) => `${fmt(x.deliveriesPerSec)}: ${fmt(x.latency.p50)} / ${fmt(x.latency.p99)}`).join('; ') || '—',
    fmt(w.memory.perConnKb),
  ])));
}
if (e && !e.error) {
  details.push('\n### Product: run pickup, step dispatch, shell steps (ms)\n');
  const s = (x: Json) => [fmt(x.p50), fmt(x.p99), `${fmt(x.min)}–${fmt(x.max)}`, String(x.n)];
  details.push(table(['measure', 'p50', 'p99', 'min–max', 'n'], [
    ['pickup: createRun request sent → WORKFLOW_STARTED committed and published (hi-res)', ...s(e.pickup.toWorkflowStartedStoredMs)],
    ['pickup: WORKFLOW_STARTED.createdAt − run.createdAt (stored, ms resolution)', ...s(e.pickup.storedCreatedAtDiffMs)],
    ['pickup: createRun HTTP response', ...s(e.pickup.mutationResponseMs)],
    ['pickup: request sent → run claimed (RUNNING published)', ...s(e.pickup.toClaimedMs)],
    ['dispatch: STEP_COMPLETED → next STEP_STARTED, published (hi-res)', ...s(e.dispatch.gapPublishedMs)],
    [`dispatch: same from stored createdAt (ms; mean ${fmt(e.dispatch.gapCreatedAtMs.mean)})`, ...s(e.dispatch.gapCreatedAtMs)],
    ['FILE_WRITE step: STEP_STARTED → STEP_COMPLETED', ...s(e.dispatch.fileStepMs)],
    ['shell `true` step: STEP_STARTED → STEP_COMPLETED (published)', ...s(e.shell.stepPublishedMs)],
    ["shell `true` step: runner's data.durationMs", ...s(e.shell.stepDurationMs)],
    ['shell: STEP_COMPLETED → next STEP_STARTED', ...s(e.shell.gapPublishedMs)],
  ]));
}
if (tp.length) {
  details.push('\n### Product: event throughput, 1 run, 1 subscriber (closed loop, ≤ 2000 events in flight, ≤ 500 appended per turn)\n');
  details.push(table(['rep', 'events', 'events/s', 'CPU µs/event', 'server cores', 'append → stored p50 / p99 ms', 'loop delay p99 / max ms', 'correct'], tp.map((r: Json, i: number) => [
    String(i + 1), String(r.sat.emits), fmt(r.sat.emitsPerSec), fmt(r.sat.cpuUsPerEmit), fmt(r.sat.cpuCores), `${fmt(r.sat.storeMs?.p50)} / ${fmt(r.sat.storeMs?.p99)}`, `${fmt(r.sat.loopDelay.p99)} / ${fmt(r.sat.loopDelay.max)}`, r.correctness.ok ? 'yes' : 'FAILED',
  ])));
}
if (fan.length) {
  details.push('\n### Product: fan-out (90 % runEvents on one run each, 10 % runUpdated on every run)\n');
  details.push(table(['N', 'runs', 'sat deliveries/s [slices min–max]', 'sat events/s', 'CPU µs/delivery [slices]', 'server / client cores', 'half-sat events/s', 'latency p50 / p99 ms', 'raw ws same rate p50 / p99', 'CPU µs/delivery at that rate: product / raw ws', 'append→stored p99', 'loop delay p99 / max', 'KB/conn (heap)', 'RSS idle → loaded MB', 'runUpdated: payloads, ms, CPU µs each', 'correct'], fan.map((p: Json) => {
    const ws = wsBy.get(p.n);
    const rate = p.fixed ? nominalDeliveryRate(p) : 0;
    const at = ws?.extra?.find((x: Json) => rate && Math.abs(x.deliveriesPerSec - rate) / rate < 0.02);
    return [
      String(p.n), String(p.runs),
      `${fmt(p.sat.deliveriesPerSec)} [${fmt(Math.min(...p.sat.slices.deliveriesPerSec))}–${fmt(Math.max(...p.sat.slices.deliveriesPerSec))}]`,
      fmt(p.sat.emitsPerSec),
      `${fmt(p.sat.cpuUsPerDelivery)} [${fmt(Math.min(...p.sat.slices.cpuUsPerDelivery))}–${fmt(Math.max(...p.sat.slices.cpuUsPerDelivery))}]`,
      `${fmt(p.sat.cpuCores)} / ${fmt(p.sat.clientCores)}`,
      fmt(p.fixed?.rateEventsPerSec),
      `${fmt(p.fixed?.latency.p50)} / ${fmt(p.fixed?.latency.p99)}`,
      at ? `${fmt(at.latency.p50)} / ${fmt(at.latency.p99)}` : '—',
      at ? `${fmt(p.fixed.cpuUsPerDelivery)} / ${fmt(at.phase.cpuUsPerDelivery)}` : '—',
      fmt(p.fixed?.storeMs?.p99),
      `${fmt(p.fixed?.loopDelay.p99)} / ${fmt(p.fixed?.loopDelay.max)}`,
      p.n >= 100 ? `${fmt(p.memory.perConnKb)} (${fmt(p.memory.heapPerConnKb)})` : '—',
      `${fmt(p.memory.rssIdleMb)} → ${fmt(p.rssLoadedMb)}`,
      p.statusChanges?.updates ? `${fmt(p.statusChanges.updates)}, ${fmt(p.statusChanges.ms)}, ${fmt(p.statusChanges.cpuUsPerUpdate)}` : '—',
      p.correctness.ok ? 'yes' : `FAILED: ${p.correctness.problems[0] ?? ''}`,
    ];
  })));
}
if (ss && !ss.error) {
  details.push(`\n### Product: spawning while streaming (100 subscribers on 10 runs, ${ss.rate} events/s = ${ss.deliveriesPerSec} deliveries/s; shell steps \`sleep ${ss.sleepSec}\`)\n`);
  details.push(table(['phase', 'latency p50 / p99 / max ms', 'append→stored p99 ms', 'loop delay p99 / max ms', 'server cores', 'shell steps/s'], ss.phases.map((x: Json) => [x.kind, `${fmt(x.p50)} / ${fmt(x.p99)} / ${fmt(x.max)}`, fmt(x.storeP99), `${fmt(x.loopDelayP99)} / ${fmt(x.loopDelayMax)}`, fmt(x.cpuCores), fmt(x.shellStepsPerSec)])));
}
if (fl && !fl.error) {
  details.push(`\n### Product: a step flooding its output (\`timeout ${fl.params.floodSeconds} yes\`) vs the same step silent (\`sleep ${fl.params.floodSeconds}\`); ${fl.sandbox === 'none' ? 'unsandboxed' : `in ${fl.sandbox}`}; COMMAND_OUTPUT_LIMIT_BYTES ${fl.outputLimitBytes}\n`);
  details.push(table(['phase', '`run` query p50 / p99 / max ms', 'delivery p50 / p99 ms', 'other run ms', 'RSS start → peak MB', 'DB growth MB', 'bytes the run stored (events + step output)', 'output read MB/s', 'cores: server / helper; machine busy', 'loop delay p99 / max ms'], fl.phases.map((p: Json) => [
    p.kind,
    `${fmt(p.query.p50)} / ${fmt(p.query.p99)} / ${fmt(p.query.max)}`,
    p.delivery ? `${fmt(p.delivery.p50)} / ${fmt(p.delivery.p99)}` : '—',
    fmt(p.otherRunMs),
    `${fmt(p.rssStartMb)} → ${fmt(p.rssPeakMb)}`,
    fmt(p.dbGrowthMb),
    fmt(p.storedBytesOfRun),
    fmt(p.outputMbPerSec),
    `${fmt(p.serverCores)} / ${fmt(p.helperCores)}; ${fmt(p.machineBusy * 100)} %`,
    `${fmt(p.loopDelay.p99)} / ${fmt(p.loopDelay.max)}`,
  ])));
}
if (results.rssImports?.length) {
  const [plain, tsx] = results.rssImports;
  details.push('\n### Baseline memory: RSS / heap (MB) after importing each dependency, plain node vs under tsx\n');
  details.push(table(['module', 'plain node RSS (heap)', 'under tsx RSS (heap)'], plain.steps.map((s: Json, i: number) => [s.module, `${fmt(s.rssMb)} (${fmt(s.heapMb)})`, tsx?.steps?.[i] ? `${fmt(tsx.steps[i].rssMb)} (${fmt(tsx.steps[i].heapMb)})` : '—'])));
}
if (failedPoints.length) {
  details.push('\n### Correctness failures\n');
  for (const f of failedPoints) details.push(`- ${f.scenario}${f.n ? ` N=${f.n} runs=${f.runs}` : ''}: ${f.error ?? f.correctness?.problems?.slice(0, 3).join('; ')}`);
}

const m = results.machine;
const codeNote = `Code: ${results.code.commit} "${results.code.subject}"${results.code.srcChanges ? ` + ${results.code.srcChanges} uncommitted change(s) in src/` : ''}${JSON.stringify(results.codeAtEnd) !== JSON.stringify(results.code) ? ` — CHANGED during the run to ${results.codeAtEnd.commit} (+${results.codeAtEnd.srcChanges}): figures mix two versions` : ''}.`;
const header = `${codeNote}\n\nMachine: ${m.nproc} cores (${m.cpuModel}), ${m.free.split('\n')[1]?.trim().split(/\s+/)[1] ?? ''} RAM, Node ${m.node}; load average at start ${m.loadAverageStart.map((l: number) => l.toFixed(2)).join(' ')}, at end ${results.loadAverageEnd.map((l: number) => l.toFixed(2)).join(' ')}; ${quick ? 'quick' : 'full'} run, ${results.totalSeconds} s, ${results.startedAt}.`;
const main = table(['measure', 'floor', 'product', 'ratio', 'target', 'met?'], rows.map((r) => [r.measure, r.floor, r.product, r.ratio, r.target, r.met]));
const markdown = `${header}\n\n${main}\n\n${details.join('\n')}\n`;
// A partial run (--only) does not replace the results of the last whole run.
const base = only ? 'results.partial' : 'results';
writeFileSync(`${BENCH}${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${BENCH}${base}.md`, markdown);
process.stdout.write(`\n${markdown}\nWrote bench/${base}.json and bench/${base}.md\n`);
