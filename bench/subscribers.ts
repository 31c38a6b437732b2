/**
 * The subscriber process: opens N WebSocket connections to a server in ANOTHER process (raw `ws`
 * clients for the floor, graphql-ws `runEvents` / `runUpdated` subscriptions for the product), so
 * that the server's CPU is measured alone. Driven by its parent over IPC (child_process.fork):
 *
 *   parent → child  { cmd: 'connect' | 'phase' | 'report' | 'final' | 'close', ... }
 *   child → parent  { type: 'progress', delivered } (every 20 ms while deliveries arrive), and one
 *                   reply per command.
 *
 * Each message or event carries its send time (`t`, CLOCK_MONOTONIC ms, shared by both processes):
 * latency = arrival − t. Every subscription checks that it sees seq 1, 2, 3 … exactly once, in order.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { nowMs, round, summarize } from './lib/stats.js';

export type SubSpec = { kind: 'raw' } | { kind: 'events'; runId: number } | { kind: 'updated' };

export type Command =
  | { cmd: 'connect'; url: string; subs: SubSpec[]; concurrency?: number }
  | { cmd: 'phase' }
  | { cmd: 'report' }
  | { cmd: 'final' }
  | { cmd: 'close' };

export interface PhaseReport {
  type: 'report';
  /** Deliveries (messages or events, not runUpdated) since the last `phase`. */
  delivered: number;
  updates: number;
  latency: ReturnType<typeof summarize>;
  /** Approximate size of one delivered WebSocket frame, in bytes. */
  frameBytes: number;
  /** CPU of this (subscriber) process since the last `phase`, in cores: near 1 means the clients, not the server, were the bottleneck. */
  clientCores: number;
}

export interface SubOutcome {
  kind: SubSpec['kind'];
  runId?: number;
  count: number;
  lastSeq: number;
  /** seq not equal to the previous one + 1 (a gap, a duplicate or a reordering). */
  outOfOrder: number;
  duplicates: number;
  completed: boolean;
  errors: string[];
  /** runUpdated: statuses seen per run id. */
  statuses?: Record<string, string[]>;
}

const EVENT_QUERY = `subscription RunEvents($runId: ID!, $after: Int) {
  runEvents(runId: $runId, after: $after) { id runId seq type message stepName data createdAt }
}`;
const UPDATED_QUERY = `subscription RunUpdated($projectId: ID) {
  runUpdated(projectId: $projectId) { id status error project { id } }
}`;

interface Sub {
  spec: SubSpec;
  outcome: SubOutcome;
  seen: Set<number> | null;
  close(): void;
}

const subs: Sub[] = [];
let totalDelivered = 0;
let totalUpdates = 0;
let phaseDelivered = 0;
let phaseUpdates = 0;
let latencies: number[] = [];
let frameBytes = 0;
let lastProgress = -1;
let phaseCpu = process.cpuUsage();
let phaseStart = nowMs();

const send = (message: unknown) => process.send!(message);

function onSeq(sub: Sub, seq: number, t: number | undefined, arrival: number): void {
  const o = sub.outcome;
  o.count++;
  if (sub.seen) {
    if (sub.seen.has(seq)) o.duplicates++;
    sub.seen.add(seq);
  }
  if (seq !== o.lastSeq + 1) o.outOfOrder++;
  if (seq > o.lastSeq) o.lastSeq = seq;
  totalDelivered++;
  phaseDelivered++;
  if (t !== undefined) latencies.push(arrival - t);
}

function connectRaw(url: string, spec: SubSpec): Promise<Sub> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const sub: Sub = {
      spec,
      outcome: { kind: 'raw', count: 0, lastSeq: 0, outOfOrder: 0, duplicates: 0, completed: false, errors: [] },
      seen: null,
      close: () => ws.close(),
    };
    ws.on('message', (data: Buffer) => {
      const arrival = nowMs();
      if (frameBytes === 0) frameBytes = data.length;
      const msg = JSON.parse(data.toString()) as { seq: number; t: number };
      onSeq(sub, msg.seq, msg.t, arrival);
    });
    ws.once('open', () => resolve(sub));
    ws.once('error', reject);
    ws.on('close', () => (sub.outcome.completed = true));
  });
}

function connectGql(url: string, spec: SubSpec): Promise<Sub> {
  return new Promise((resolve, reject) => {
    let client: Client;
    const outcome: SubOutcome = { kind: spec.kind, count: 0, lastSeq: 0, outOfOrder: 0, duplicates: 0, completed: false, errors: [] };
    if (spec.kind === 'events') outcome.runId = spec.runId;
    if (spec.kind === 'updated') outcome.statuses = {};
    const sub: Sub = { spec, outcome, seen: spec.kind === 'events' ? new Set() : null, close: () => void client.dispose() };
    client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      on: {
        connected: () => resolve(sub),
        error: (error) => reject(error instanceof Error ? error : new Error(String((error as { message?: string })?.message ?? error))),
      },
    });
    const query = spec.kind === 'events' ? EVENT_QUERY : UPDATED_QUERY;
    const variables = spec.kind === 'events' ? { runId: String(spec.runId), after: 0 } : { projectId: null };
    client.subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (value) => {
          const arrival = nowMs();
          if (value.errors?.length) {
            if (outcome.errors.length < 5) outcome.errors.push(value.errors.map((e) => e.message).join('; '));
            return;
          }
          if (spec.kind === 'events') {
            const event = value.data!.runEvents as { seq: number; data: { t?: number } | null };
            // graphql-ws ids are UUIDs: 36 characters.
            if (frameBytes === 0 && event.data?.t !== undefined) frameBytes = JSON.stringify({ id: '00000000-0000-0000-0000-000000000000', type: 'next', payload: value }).length;
            onSeq(sub, event.seq, event.data?.t, arrival);
          } else {
            const run = value.data!.runUpdated as { id: string; status: string };
            (outcome.statuses![run.id] ??= []).push(run.status);
            outcome.count++;
            phaseUpdates++;
            totalUpdates++;
          }
        },
        error: (error) => {
          if (outcome.errors.length < 5) outcome.errors.push(String((error as Error)?.message ?? JSON.stringify(error)));
        },
        complete: () => {
          outcome.completed = true;
        },
      },
    );
  });
}

async function connectAll(url: string, specs: SubSpec[], concurrency: number): Promise<{ ms: number; failed: number; firstError?: string }> {
  const started = Date.now();
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
    while (next < specs.length) {
      const spec = specs[next++];
      try {
        subs.push(spec.kind === 'raw' ? await connectRaw(url, spec) : await connectGql(url, spec));
      } catch (error) {
        failed++;
        firstError ??= String((error as Error)?.message ?? error);
      }
    }
  });
  await Promise.all(workers);
  return { ms: Date.now() - started, failed, firstError };
}

setInterval(() => {
  if (totalDelivered + totalUpdates !== lastProgress) {
    lastProgress = totalDelivered + totalUpdates;
    send({ type: 'progress', delivered: totalDelivered, updates: totalUpdates });
  }
}, 20);

process.on('message', async (message: Command) => {
  switch (message.cmd) {
    case 'connect': {
      const result = await connectAll(message.url, message.subs, message.concurrency ?? 50);
      send({ type: 'connected', ...result });
      break;
    }
    case 'phase':
      phaseDelivered = 0;
      phaseUpdates = 0;
      latencies = [];
      phaseCpu = process.cpuUsage();
      phaseStart = nowMs();
      send({ type: 'phase-ok' });
      break;
    case 'report': {
      const s = summarize(latencies);
      const latency = { n: s.n, p50: round(s.p50), p99: round(s.p99), min: round(s.min), max: round(s.max), mean: round(s.mean) };
      const cpu = process.cpuUsage(phaseCpu);
      const clientCores = round((cpu.user + cpu.system) / 1000 / (nowMs() - phaseStart));
      send({ type: 'report', delivered: phaseDelivered, updates: phaseUpdates, latency, frameBytes, clientCores } satisfies PhaseReport);
      break;
    }
    case 'final':
      send({ type: 'final', outcomes: subs.map((s) => s.outcome) });
      break;
    case 'close':
      for (const s of subs) s.close();
      setTimeout(() => {
        send({ type: 'closed' });
        process.exit(0);
      }, 200);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
