/**
 * A client of the API in a process of its own (bench/scenarios/flood.ts forks it): the `run` query
 * (the typed client's RunDocument, what the console asks for a run's page) at a fixed rate, and a
 * `runEvents` subscription to another run, for one phase; reports latencies, not samples.
 *
 * Query latency is measured from each request's due time (t0 + k / rate), so a server that stops
 * answering shows up as latency, not as fewer requests (no coordinated omission). Delivery latency is
 * arrival − the event's createdAt (the server's wall clock, ms resolution; same machine).
 *
 * Over IPC: in { url, runId, ratePerSec, durationMs, watchRunId } → out { type: 'phase', … }.
 */
import { AgentRunnerClient } from '../src/client/client.js';
import { RunDocument, RunEventsDocument } from '../src/client/generated/graphql.js';
import { nowMs, roundSummary, summarize } from './lib/stats.js';

interface PhaseCommand {
  url: string;
  runId: string;
  ratePerSec: number;
  durationMs: number;
  /** A run whose events are followed over runEvents meanwhile. */
  watchRunId: string;
}

process.on('message', (command: PhaseCommand) => {
  void phase(command).then((report) => process.send!({ type: 'phase', ...report }));
});

async function phase({ url, runId, ratePerSec, durationMs, watchRunId }: PhaseCommand) {
  const client = new AgentRunnerClient({ url });
  const deliveries: number[] = [];
  const subscription = client.subscribe(RunEventsDocument, { runId: watchRunId, after: 0 });
  const following = (async () => {
    for await (const { runEvents } of subscription) deliveries.push(Date.now() - Date.parse(runEvents.createdAt));
  })();

  const latencies: number[] = [];
  let failed = 0;
  const t0 = nowMs();
  const count = Math.floor((durationMs / 1000) * ratePerSec);
  const inFlight: Array<Promise<void>> = [];
  for (let k = 0; k < count; k++) {
    const due = t0 + (k * 1000) / ratePerSec;
    const wait = due - nowMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      client.request(RunDocument, { id: runId }).then(
        () => void latencies.push(nowMs() - due),
        () => void failed++,
      ),
    );
  }
  await Promise.all(inFlight);
  subscription.close();
  await following.catch(() => undefined);
  await client.close();
  return { queries: roundSummary(summarize(latencies)), failed, deliveries: deliveries.length ? roundSummary(summarize(deliveries)) : null };
}
