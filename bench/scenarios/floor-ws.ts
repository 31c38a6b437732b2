/**
 * Floor: raw `ws`. One server broadcasting ~200-byte JSON messages to N clients that live in the
 * subscriber process. Measures saturation (closed loop), server CPU per delivered message, and
 * delivery latency at fixed rates (half its own saturation, plus any rates asked for: the rates at
 * which the product was measured, so the two can be compared at the same N and rate).
 *
 *   node --expose-gc --import tsx bench/scenarios/floor-ws.ts '{"n":100}'
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { fixedRate, saturate, type Target } from '../lib/drive.js';
import { emitResult, parseArgs, profilePhase, round, rssMb, settleGc, sleep } from '../lib/stats.js';
import { SubscriberProcess } from '../lib/subscriber-process.js';

const args = parseArgs({
  n: 100,
  satMs: 3000,
  latMs: 4000,
  warmupMs: 500,
  /** Extra fixed rates, in deliveries/s (the product's half-saturation rates at this N). */
  deliveryRates: [] as number[],
});

const http = createServer();
const wss = new WebSocketServer({ server: http });
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
const clients: WebSocket[] = [];
wss.on('connection', (ws) => clients.push(ws));

const subs = new SubscriberProcess();
await settleGc();
const rss0 = rssMb();
const connected = await subs.connect(
  url,
  Array.from({ length: args.n }, () => ({ kind: 'raw' as const })),
);
while (clients.length < args.n - connected.failed) await sleep(10);
await sleep(500);
await settleGc();
const rss1 = rssMb();

// ~200 bytes of JSON, shaped like an event; serialized and encoded once, sent to every client.
const PAD = 'x'.repeat(96);
let seq = 0;
const target: Target = {
  emit(t) {
    seq++;
    const body = Buffer.from(JSON.stringify({ runId: 1, seq, type: 'LLM_TOKEN', stepName: 'coder', t, message: 'token', data: { text: PAD } }));
    for (const ws of clients) ws.send(body);
    return clients.length;
  },
};

const window = Math.max(2000, 20 * args.n);
const perTurn = Math.max(500, args.n);
await saturate(target, subs, { durationMs: args.warmupMs, window, perTurn });
await subs.phase();
const sat = { ...(await profilePhase(`ws-${args.n}-sat`, () => saturate(target, subs, { durationMs: args.satMs, window, perTurn }))), clientCores: (await subs.report()).clientCores };

const atRate = async (messagesPerSec: number) => {
  await subs.phase();
  const phase = await profilePhase(`ws-${args.n}-rate-${Math.round(messagesPerSec * args.n)}`, () => fixedRate(target, subs, { ratePerSec: messagesPerSec, durationMs: args.latMs }));
  const report = await subs.report();
  return { messagesPerSec: round(messagesPerSec), deliveriesPerSec: round(messagesPerSec * args.n), phase, latency: report.latency, frameBytes: report.frameBytes, clientCores: report.clientCores };
};

const half = await atRate(sat.emitsPerSec / 2);
const extra = [];
for (const rate of args.deliveryRates) extra.push(await atRate(rate / args.n));

const { outcomes } = await subs.final();
const problems: string[] = [];
for (const [i, o] of outcomes.entries()) {
  if (o.count !== seq || o.outOfOrder !== 0) problems.push(`client ${i}: ${o.count}/${seq} messages, ${o.outOfOrder} out of order`);
}
await subs.close();
wss.close();
http.close();

emitResult({
  scenario: 'floor-ws',
  n: args.n,
  connectMs: connected.ms,
  connectFailed: connected.failed,
  memory: { rssBaseMb: round(rss0), rssIdleMb: round(rss1), perConnKb: round(((rss1 - rss0) * 1024) / args.n) },
  sat,
  half,
  extra,
  correctness: { ok: problems.length === 0 && connected.failed === 0, problems: problems.slice(0, 10) },
});
process.exit(0);
