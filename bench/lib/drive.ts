import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { cpuMsSince, loopDelay, nowMs, round, rssMb } from './stats.js';
import type { SubscriberProcess } from './subscriber-process.js';

/**
 * What a driver feeds: one "emit" is one message broadcast (raw ws) or one event appended to a run
 * (product). `emit` returns how many deliveries that emit should produce at the subscribers.
 * `t` is the timestamp carried in the message (CLOCK_MONOTONIC ms).
 */
export interface Target {
  emit(t: number): number;
  /** Resolves when everything emitted is done on the server side (stored, for the product). */
  settle?(): Promise<void>;
  /** Emits not yet done on the server side (appended, not yet stored): bounded by the closed loop too. */
  pending?(): number;
}

export interface PhaseResult {
  emits: number;
  deliveries: number;
  /** Wall time from the first emit until the last delivery was reported. */
  ms: number;
  emitsPerSec: number;
  deliveriesPerSec: number;
  cpuMs: number;
  /** Server CPU per delivery, in µs. */
  cpuUsPerDelivery: number;
  /** Server CPU per emit (event or broadcast message), in µs. */
  cpuUsPerEmit: number;
  /** Server CPU use over the phase, in cores (1 = one core busy all the time). */
  cpuCores: number;
  loopDelay: ReturnType<typeof loopDelay>;
  rssPeakMb: number;
  /** All deliveries arrived. */
  complete: boolean;
  /** Deliveries/s and CPU µs per delivery in each slice of the phase (for the spread). */
  slices: { deliveriesPerSec: number[]; cpuUsPerDelivery: number[] };
}

/** Samples deliveries and CPU every `sliceMs`, for per-slice rates. */
function slicer(subs: SubscriberProcess, sliceMs = 1000) {
  const marks: Array<{ t: number; delivered: number; cpu: NodeJS.CpuUsage }> = [{ t: nowMs(), delivered: subs.delivered, cpu: process.cpuUsage() }];
  const timer = setInterval(() => marks.push({ t: nowMs(), delivered: subs.delivered, cpu: process.cpuUsage() }), sliceMs);
  return {
    stop(): PhaseResult['slices'] {
      clearInterval(timer);
      const deliveriesPerSec: number[] = [];
      const cpuUsPerDelivery: number[] = [];
      for (let i = 1; i < marks.length; i++) {
        const d = marks[i].delivered - marks[i - 1].delivered;
        const cpuUs = marks[i].cpu.user + marks[i].cpu.system - marks[i - 1].cpu.user - marks[i - 1].cpu.system;
        deliveriesPerSec.push(round((d / (marks[i].t - marks[i - 1].t)) * 1000));
        cpuUsPerDelivery.push(round(cpuUs / Math.max(1, d)));
      }
      return { deliveriesPerSec, cpuUsPerDelivery };
    },
  };
}

function finish(emits: number, deliveries: number, ms: number, cpuMs: number, h: ReturnType<typeof monitorEventLoopDelay>, rssPeak: number, complete: boolean, slices: PhaseResult['slices']): PhaseResult {
  return {
    emits,
    deliveries,
    ms: round(ms),
    emitsPerSec: round((emits / ms) * 1000),
    deliveriesPerSec: round((deliveries / ms) * 1000),
    cpuMs: round(cpuMs),
    cpuUsPerDelivery: round((cpuMs * 1000) / Math.max(1, deliveries)),
    cpuUsPerEmit: round((cpuMs * 1000) / Math.max(1, emits)),
    cpuCores: round(cpuMs / ms),
    loopDelay: loopDelay(h),
    rssPeakMb: round(rssPeak),
    complete,
    slices,
  };
}

function rssSampler() {
  let peak = rssMb();
  const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
  return { stop: () => (clearInterval(timer), Math.max(peak, rssMb())) };
}

/**
 * Closed loop, as fast as the whole pipeline goes: keeps at most `window` deliveries in flight
 * (emitted but not yet reported delivered by the subscriber process) and at most `maxPending` emits
 * not yet done on the server (events appended but not stored, even to runs nobody watches), at most
 * `perTurn` deliveries emitted per event-loop turn. Runs for `durationMs`, or until `maxEmits` emits, then waits for the
 * last deliveries. The rate is deliveries / (first emit → last delivery).
 */
export async function saturate(
  target: Target,
  subs: SubscriberProcess,
  opts: { durationMs?: number; maxEmits?: number; window: number; perTurn: number; maxPending?: number },
): Promise<PhaseResult> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const rss = rssSampler();
  const slices = slicer(subs);
  h.enable();
  const base = subs.delivered;
  let expected = base;
  let emits = 0;
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  const stopAt = t0 + (opts.durationMs ?? Number.POSITIVE_INFINITY);
  const maxEmits = opts.maxEmits ?? Number.POSITIVE_INFINITY;
  const maxPending = opts.maxPending ?? 2000;
  while (nowMs() < stopAt && emits < maxEmits) {
    let thisTurn = 0;
    while (expected - subs.delivered < opts.window && (target.pending?.() ?? 0) < maxPending && thisTurn < opts.perTurn && emits < maxEmits) {
      const d = target.emit(nowMs());
      expected += d;
      thisTurn += Math.max(1, d);
      emits++;
    }
    if (thisTurn === 0) await Promise.race([subs.nextProgress(200), new Promise((resolve) => setTimeout(resolve, 1))]);
    else await turn();
  }
  const slicesResult = slices.stop();
  await target.settle?.();
  const complete = await subs.waitDelivered(expected);
  const ms = nowMs() - t0;
  const cpuMs = cpuMsSince(cpu0);
  h.disable();
  return finish(emits, expected - base, ms, cpuMs, h, rss.stop(), complete, slicesResult);
}

/**
 * Open loop at a fixed rate: emit k is due at t0 + k / rate and is stamped with that due time (so
 * a blocked event loop shows as latency instead of silently delaying the sends). Timers wake the
 * loop at the next due time (at most every ms).
 */
export async function fixedRate(target: Target, subs: SubscriberProcess, opts: { ratePerSec: number; durationMs: number }): Promise<PhaseResult> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const rss = rssSampler();
  const slices = slicer(subs);
  const base = subs.delivered;
  let expected = base;
  let emits = 0;
  const total = Math.max(1, Math.round((opts.ratePerSec * opts.durationMs) / 1000));
  const interval = 1000 / opts.ratePerSec;
  h.enable();
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      while (emits < total && t0 + emits * interval <= now) {
        expected += target.emit(t0 + emits * interval);
        emits++;
      }
      if (emits >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + emits * interval - nowMs()));
    };
    tick();
  });
  const slicesResult = slices.stop();
  await target.settle?.();
  const complete = await subs.waitDelivered(expected);
  const ms = nowMs() - t0;
  const cpuMs = cpuMsSince(cpu0);
  h.disable();
  return finish(emits, expected - base, ms, cpuMs, h, rss.stop(), complete, slicesResult);
}
