/**
 * The product, streaming: N subscribers in the subscriber process (90 % on one run each via
 * runEvents, spread evenly over the runs; 10 % on every run via runUpdated), R runs; events are
 * appended straight through the event log (`app.services.eventLog.append`), as a running step
 * does, so storage, publishing, GraphQL execution and graphql-ws delivery are all measured.
 *
 * Phases: idle subscribers (memory per connection) → runs go RUNNING (runUpdated) → warm-up →
 * saturation (closed loop) → fixed rate (half the saturation unless `rate` is given) → every run
 * ends (COMPLETED, WORKFLOW_COMPLETED) → correctness: each runEvents subscriber saw seq 1 … last
 * exactly once, in order, and completed; each runUpdated subscriber saw every run go RUNNING then
 * COMPLETED; the stored log of each run has every appended event and no gap.
 *
 * With `satEvents` the saturation phase appends that many events instead of running for `satMs`
 * (the throughput point: N = 1, R = 1).
 *
 *   node --expose-gc --import tsx bench/scenarios/fanout.ts '{"n":100,"runs":10}'
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import WebSocket from 'ws';
import { fixedRate, saturate, type PhaseResult } from '../lib/drive.js';
import { changeRunStatus, checkStoredLog, completeRuns, createQueuedRun, eventTarget, startBenchApp } from '../lib/product.js';
import { cpuMsSince, debugStalls, emitResult, nowMs, parseArgs, profilePhase, round, rssMb, settleGc, sleep } from '../lib/stats.js';
import { SubscriberProcess } from '../lib/subscriber-process.js';
import type { SubSpec } from '../subscribers.js';

await debugStalls();
const args = parseArgs({
  n: 100,
  runs: 10,
  warmupMs: 1000,
  satMs: 4000,
  satEvents: 0,
  latMs: 4000,
  /** Fixed rate in events/s; 0 = half the measured saturation. */
  rate: 0,
  skipLatency: false,
  window: 0,
  perTurn: 0,
  /**
   * Experiment, not the product as it is: AsyncLocalStorage.run made a plain call, so that the
   * ALS instances MikroORM runs on every flush (UnitOfWork `insideFlush`) and transaction
   * (TransactionContext) never switch on Node 20's promise hooks; sizes what those hooks cost.
   */
  experimentNoAls: false,
  /**
   * Experiment, not the product as it is: WebSocket#send corks the socket until the end of the
   * event-loop turn (several frames per writev) and calls back at once instead of after the write,
   * so graphql-ws's `await socket.send(...)` no longer holds each subscription to one frame per
   * write; sizes what batching the writes would save.
   */
  experimentBatchedSend: false,
});
if (args.experimentBatchedSend) {
  type Corkable = { cork(): void; uncork(): void; benchCorked?: boolean };
  const proto = WebSocket.prototype as unknown as { send: (data: unknown, options?: unknown, cb?: (error?: Error) => void) => void; _socket?: Corkable };
  const send = proto.send;
  proto.send = function batchedSend(this: { _socket?: Corkable }, data: unknown, options?: unknown, cb?: (error?: Error) => void) {
    if (typeof options === 'function') {
      cb = options as (error?: Error) => void;
      options = {};
    }
    const socket = this._socket;
    if (socket && !socket.benchCorked) {
      socket.benchCorked = true;
      socket.cork();
      setImmediate(() => {
        socket.benchCorked = false;
        socket.uncork();
      });
    }
    send.call(this, data, options);
    if (cb) process.nextTick(cb);
  };
}
if (args.experimentNoAls) {
  AsyncLocalStorage.prototype.run = function run(_store: unknown, callback: (...a: unknown[]) => unknown, ...rest: unknown[]) {
    return callback(...rest);
  } as typeof AsyncLocalStorage.prototype.run;
}

const b = await startBenchApp({ disableWorker: true });
const { pubsub } = b.app.services;
const runIds: number[] = [];
for (let i = 0; i < args.runs; i++) runIds.push((await createQueuedRun(b)).id);
const appended = new Map<number, number>(runIds.map((id) => [id, 1])); // RUN_QUEUED

const nEvents = args.n === 1 ? 1 : Math.round(args.n * 0.9);
const nUpdated = args.n - nEvents;
const specs: SubSpec[] = [];
const subsPerRun = new Map<number, number>(runIds.map((id) => [id, 0]));
for (let i = 0; i < nEvents; i++) {
  const runId = runIds[i % runIds.length];
  specs.push({ kind: 'events', runId });
  subsPerRun.set(runId, subsPerRun.get(runId)! + 1);
}
for (let i = 0; i < nUpdated; i++) specs.push({ kind: 'updated' });

const subs = new SubscriberProcess();
await sleep(300);
await settleGc();
const rss0 = rssMb();
const heap0 = process.memoryUsage();
const connected = await subs.connect(b.wsUrl, specs);
const listening = () => runIds.reduce((sum, id) => sum + pubsub.listenerCount('runEvent', id), 0) + pubsub.listenerCount('runUpdated', 'all');
for (let i = 0; i < 600 && listening() < args.n - connected.failed; i++) await sleep(50);
await subs.waitDelivered(nEvents); // each runEvents subscriber has replayed RUN_QUEUED
await sleep(1000);
await settleGc();
const rss1 = rssMb();
const heap1 = process.memoryUsage();
const memory = {
  rssBaseMb: round(rss0),
  rssIdleMb: round(rss1),
  perConnKb: round(((rss1 - rss0) * 1024) / args.n),
  heapPerConnKb: round((heap1.heapUsed - heap0.heapUsed) / 1024 / args.n),
  listening: listening(),
};

// Every run goes RUNNING: one runUpdated payload per run to every runUpdated subscriber (each
// resolving the `project { id }` the client's RunUpdated document asks for).
const statusCpu0 = process.cpuUsage();
const statusT0 = nowMs();
for (const id of runIds) await changeRunStatus(b.app.services, { id, status: 'QUEUED' }, { status: 'RUNNING', startedAt: new Date() });
await subs.waitUpdates(nUpdated * args.runs);
const statusChanges = {
  updates: subs.updates,
  ms: round(nowMs() - statusT0),
  cpuUsPerUpdate: round((cpuMsSince(statusCpu0) * 1000) / Math.max(1, nUpdated * args.runs)),
};

const target = eventTarget(b, runIds, subsPerRun, appended);

const window = args.window || Math.max(2000, 5 * args.n);
const perTurn = args.perTurn || Math.max(500, args.n);
if (args.warmupMs > 0) await saturate(target, subs, { durationMs: args.warmupMs, window, perTurn });
await subs.phase();
target.takeStoreLatency();
const sat = await profilePhase(`fanout-${args.n}-${args.runs}-sat`, () =>
  args.satEvents > 0 ? saturate(target, subs, { maxEmits: args.satEvents, window, perTurn }) : saturate(target, subs, { durationMs: args.satMs, window, perTurn }),
);
const satReport = await subs.report();
const satStoreMs = target.takeStoreLatency();

let fixed: (PhaseResult & { rateEventsPerSec: number; latency: unknown; storeMs: unknown; frameBytes: number; clientCores: number }) | null = null;
if (!args.skipLatency) {
  const rate = args.rate || sat.emitsPerSec / 2;
  await subs.phase();
  const phase = await profilePhase(`fanout-${args.n}-${args.runs}-fixed`, () => fixedRate(target, subs, { ratePerSec: rate, durationMs: args.latMs }));
  const report = await subs.report();
  fixed = { ...phase, rateEventsPerSec: round(rate), latency: report.latency, storeMs: target.takeStoreLatency(), frameBytes: report.frameBytes, clientCores: report.clientCores };
}
const rssLoadedMb = round(Math.max(sat.rssPeakMb, fixed?.rssPeakMb ?? 0));
const loadedMemory = process.memoryUsage();
const memoryLoaded = { rssMb: round(loadedMemory.rss / 2 ** 20), heapUsedMb: round(loadedMemory.heapUsed / 2 ** 20), heapTotalMb: round(loadedMemory.heapTotal / 2 ** 20), externalMb: round(loadedMemory.external / 2 ** 20) };
await settleGc();
const afterGc = process.memoryUsage();
const memoryAfterLoadGc = { rssMb: round(afterGc.rss / 2 ** 20), heapUsedMb: round(afterGc.heapUsed / 2 ** 20), heapTotalMb: round(afterGc.heapTotal / 2 ** 20) };

// Every run ends the way the runner ends it: status first, then the terminal event.
const before = subs.delivered;
await completeRuns(b, runIds, appended);
await subs.waitDelivered(before + nEvents);
await sleep(500);

const problems: string[] = [];
if (connected.failed > 0) problems.push(`${connected.failed} connections failed: ${connected.firstError}`);
if (target.failed > 0) problems.push(`${target.failed} appends failed`);
if (!sat.complete || (fixed && !fixed.complete)) problems.push('not every delivery arrived');
const stored = await checkStoredLog(b, runIds, appended);
problems.push(...stored.problems.slice(0, 10));
const { outcomes } = await subs.final();
let eventSubsOk = 0;
let updatedSubsOk = 0;
for (const o of outcomes) {
  if (o.kind === 'events') {
    const last = stored.lastSeq.get(o.runId!)!;
    const ok = o.completed && o.count === last && o.lastSeq === last && o.outOfOrder === 0 && o.duplicates === 0 && o.errors.length === 0;
    if (ok) eventSubsOk++;
    else if (problems.length < 20) problems.push(`runEvents(${o.runId}): ${o.count} events, last seq ${o.lastSeq} of ${last}, ${o.outOfOrder} out of order, ${o.duplicates} duplicates, completed ${o.completed}, errors ${o.errors.join(' | ')}`);
  } else {
    const ok = runIds.every((id) => (o.statuses?.[String(id)] ?? []).join(',') === 'RUNNING,COMPLETED') && o.errors.length === 0;
    if (ok) updatedSubsOk++;
    else if (problems.length < 20) problems.push(`runUpdated: ${JSON.stringify(o.statuses).slice(0, 200)} errors ${o.errors.join(' | ')}`);
  }
}
await subs.close();
await b.close();

emitResult({
  scenario: 'fanout',
  n: args.n,
  runs: args.runs,
  subscribers: { runEvents: nEvents, runUpdated: nUpdated, connectMs: connected.ms },
  memory,
  statusChanges,
  sat: { ...sat, updates: satReport.updates, storeMs: satStoreMs, clientCores: satReport.clientCores },
  fixed,
  rssLoadedMb,
  memoryLoaded,
  memoryAfterLoadGc,
  correctness: {
    ok: problems.length === 0 && eventSubsOk === nEvents && updatedSubsOk === nUpdated,
    eventSubsOk,
    updatedSubsOk,
    eventsStored: [...stored.lastSeq.values()].reduce((a, c) => a + c, 0),
    problems,
  },
});
process.exit(0);
