/** Small statistics and clock helpers shared by every bench script. */

/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime). The clock is system-wide on Linux, so a timestamp
 * taken in the server process can be compared with one taken in the subscriber process.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    min: sorted.length ? sorted[0] : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

export function median(values: number[]): number {
  return quantile(Float64Array.from(values).sort(), 0.5);
}

/** Server CPU (user + system) in ms since `start` (a process.cpuUsage() reading). */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rounds for display and JSON: 3 significant digits, keeping integers as they are. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 10 ** digits) return Math.round(value);
  return Number(value.toPrecision(digits));
}

export function roundSummary(s: Summary): Summary {
  return { n: s.n, p50: round(s.p50), p99: round(s.p99), min: round(s.min), max: round(s.max), mean: round(s.mean) };
}

/** Event-loop delay in ms from a perf_hooks histogram (which counts in ns). */
export function loopDelay(h: import('node:perf_hooks').IntervalHistogram): { p50: number; p99: number; max: number; mean: number } {
  return {
    p50: round(h.percentile(50) / 1e6),
    p99: round(h.percentile(99) / 1e6),
    max: round(h.max / 1e6),
    mean: round(h.mean / 1e6),
  };
}

/** Prints the scenario's result as the last stdout line, where the orchestrator looks for it. */
export function emitResult(result: unknown): void {
  process.stdout.write(`@@RESULT ${JSON.stringify(result)}\n`);
}

export function parseArgs<T>(defaults: T): T {
  const raw = process.argv[2];
  return { ...defaults, ...(raw ? (JSON.parse(raw) as Partial<T>) : {}) };
}

export function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Forces a full GC when the process runs with --expose-gc (the orchestrator passes it). */
export async function settleGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(50);
  }
}

/**
 * With BENCH_DEBUG=1: prints to stderr every event-loop stall over 30 ms and every GC pause over
 * 10 ms, with their times, to tell GC pauses from synchronous work.
 */
export async function debugStalls(): Promise<void> {
  if (!process.env.BENCH_DEBUG) return;
  const { PerformanceObserver } = await import('node:perf_hooks');
  const t0 = nowMs();
  let last = nowMs();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = nowMs();
    const cpu = process.cpuUsage();
    if (now - last > 35) {
      const cpuMs = (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000;
      process.stderr.write(`[stall] at ${(now - t0).toFixed(0)} ms: ${(now - last - 5).toFixed(1)} ms, process CPU meanwhile ${cpuMs.toFixed(1)} ms\n`);
    }
    last = now;
    lastCpu = cpu;
  }, 5).unref();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration > 10) process.stderr.write(`[gc] at ${(nowMs() - t0).toFixed(0)} ms: ${entry.duration.toFixed(1)} ms kind ${(entry as unknown as { detail?: { kind?: number } }).detail?.kind}\n`);
    }
  }).observe({ entryTypes: ['gc'] });
}

/**
 * Phase-scoped CPU profile (same V8 sampling profiler as `node --cpu-prof`, but only around the
 * measured phase, not start-up): with BENCH_PROFILE_DIR set, `profilePhase('name', fn)` writes
 * BENCH_PROFILE_DIR/<name>.cpuprofile. Summarise with bench/profile-summary.ts.
 */
export async function profilePhase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return fn();
  const { Session } = await import('node:inspector');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 250 });
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${name}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}
