/**
 * Scale-out (issue 15): two and three real server instances, child processes, on one PostgreSQL
 * database and one Redis. A run is claimed once however the instances race; kill -9 of the
 * instance executing a run → another continues it within the lease plus a second, every seq once,
 * none of the dead instance's processes left; an instance stalled (SIGSTOP) past its lease cannot
 * write once it wakes; a subscriber on one instance follows a run on another with no gap or
 * duplicate while Redis drops messages; stop and pause sent to one instance reach the one executing.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateLabelledProjectDocument,
  CreateRunDocument,
  PauseRunDocument,
  ResumeRunDocument,
  RunDocument,
  RunEventsDocument,
  RunPlacementDocument,
  StopRunDocument,
} from '../../src/client/generated/graphql.js';
import { REDIS_URL, servicesUp } from '../helpers/postgres.js';
import { collect, makeTempDir, waitFor } from '../helpers/test-app.js';
import { expectGaplessSeqs, ofType } from '../workflow/support.js';
import { killAllServers, queryAllEvents, within, type ServerChild } from '../durability/support.js';
import { LEASE_SECONDS, killProcessesWithEnv, processesWithEnv, startCluster, tickerRun, type Cluster } from './support.js';

const unavailable = await servicesUp();
// CI (.ci/run) starts both services and sets AGENT_RUNNER_REQUIRE_SERVICES: there, a missing one fails.
if (unavailable && process.env.AGENT_RUNNER_REQUIRE_SERVICES) throw new Error(unavailable);
if (unavailable) console.warn(`[cluster] skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('several instances on PostgreSQL and Redis', { timeout: 240_000 }, () => {
  let dir: string;
  let cluster: Cluster;
  const markers: string[] = [];

  beforeAll(async () => {
    dir = makeTempDir('agent-runner-cluster-');
    cluster = await startCluster(dir);
  });

  afterEach(async () => {
    await killAllServers();
    for (const marker of markers.splice(0)) killProcessesWithEnv(marker);
  });

  afterAll(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function marker(): string {
    const m = `cluster-marker-${Math.random().toString(36).slice(2)}`;
    markers.push(m);
    return m;
  }

  async function leaseOwner(runId: string): Promise<string | null> {
    const [row] = await cluster.query<{ lease_owner: string | null }>('select lease_owner from runs where id = $1', [Number(runId)]);
    return row?.lease_owner ?? null;
  }

  async function statusOf(server: ServerChild, runId: string): Promise<string | undefined> {
    return (await server.client.request(RunDocument, { id: runId })).run?.status;
  }

  it('three instances racing for the queue claim every run once; each run runs on one instance, its seqs 1..n', async () => {
    const servers = await Promise.all(['race-a', 'race-b', 'race-c'].map((id) => cluster.start(id, { WORKER_CHECK_INTERVAL: '0.2', WORKER_CONCURRENCY: '4' })));
    // /ready reports both services and the instance.
    const ready = await fetch(`${servers[0]!.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: { kind: 'postgresql', status: 'ok' }, redis: { status: 'ok' }, instance: { id: 'race-a', labels: [] } });
    const RUNS = 18;
    const created = await Promise.all(
      Array.from({ length: RUNS }, (_, i) => tickerRun(servers[i % 3]!.client, join(dir, `race-${i}`), { lines: 2, delay: '0.05', marker: 'race' }, `race-${i}`)),
    );
    for (const { run } of created) {
      await waitFor(async () => ['COMPLETED', 'FAILED'].includes((await statusOf(servers[0]!, run.id)) ?? ''), { timeoutMs: 120_000, intervalMs: 200, what: `run ${run.id} to end` });
    }
    for (const { run } of created) {
      expect(await statusOf(servers[1]!, run.id), `run ${run.id}`).toBe('COMPLETED');
      const events = await queryAllEvents(servers[2]!.client, run.id);
      expectGaplessSeqs(events);
      expect(events[0]!.type).toBe('RUN_QUEUED');
      expect(ofType(events, 'WORKFLOW_STARTED'), `run ${run.id}`).toHaveLength(1);
      expect(ofType(events, 'STEP_STARTED').map((e) => e.stepName), `run ${run.id}`).toEqual(['tick', 'tock']);
      expect(ofType(events, 'WORKFLOW_COMPLETED'), `run ${run.id}`).toHaveLength(1);
    }
    // Each instance logs the runs it executes: together they executed each run exactly once.
    await waitFor(() => created.every(({ run }) => servers.some((s) => new RegExp(`run ${run.id} completed\\b`).test(s.output()))), { what: 'every run’s log line' });
    const executedBy = created.map(({ run }) => servers.filter((s) => new RegExp(`run ${run.id} completed\\b`).test(s.output())).length);
    expect(executedBy).toEqual(created.map(() => 1));
    // The queue was shared: more than one instance executed runs.
    expect(servers.filter((s) => /run \d+ completed/.test(s.output())).length).toBeGreaterThan(1);
  });

  it('kill -9 of the instance executing a run: another takes it over within the lease plus a second, kills the dead one’s processes, every seq once', async () => {
    const a = await cluster.start('kill-a');
    const b = await cluster.start('kill-b');
    const m = marker();
    const { run } = await tickerRun(a.client, join(dir, 'kill'), { lines: 40, delay: '0.1', marker: m });
    await waitFor(async () => (await queryAllEvents(a.client, run.id)).filter((e) => e.type === 'SHELL_OUTPUT').length >= 3, { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    const owner = await leaseOwner(run.id);
    expect(owner === 'kill-a' || owner === 'kill-b').toBe(true);
    const [victim, survivor] = owner === 'kill-a' ? [a, b] : [b, a];
    const leftBehind = processesWithEnv(m);
    expect(leftBehind.length).toBeGreaterThan(0);

    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await within(victim.exited, 10_000, 'the killed instance to exit');
    const recovered = await waitFor(async () => (await queryAllEvents(survivor.client, run.id)).find((e) => e.type === 'RUN_RECOVERED'), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'RUN_RECOVERED',
    });
    const takeoverMs = new Date(recovered.createdAt as string).getTime() - killedAt;
    console.log(`[cluster] takeover ${takeoverMs} ms after kill -9 (lease ${LEASE_SECONDS} s)`);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 1000);
    // The dead instance's command (same machine) was killed by the takeover.
    const now = processesWithEnv(m);
    for (const pid of leftBehind) expect(now.includes(pid), `process ${pid} of the dead instance`).toBe(false);

    await waitFor(async () => (await statusOf(survivor, run.id)) === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 100, what: 'the run to complete on the survivor' });
    const events = await queryAllEvents(survivor.client, run.id);
    expectGaplessSeqs(events);
    expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
    expect(ofType(events, 'RUN_RECOVERED')).toHaveLength(1);
    expect(ofType(events, 'WORKFLOW_COMPLETED')).toHaveLength(1);
    expect((await survivor.client.request(RunDocument, { id: run.id })).run?.steps.map((s) => [s.name, s.status])).toEqual([
      ['tick', 'COMPLETED'],
      ['tock', 'COMPLETED'],
    ]);
  });

  it('an instance stalled (SIGSTOP) past its lease writes nothing more for the run once it wakes (fencing)', async () => {
    const a = await cluster.start('stall-a');
    const b = await cluster.start('stall-b', { DISABLE_WORKER: 'true' });
    const m = marker();
    const { run } = await tickerRun(b.client, join(dir, 'stall'), { lines: 30, delay: '0.1', marker: m });
    await waitFor(async () => (await queryAllEvents(b.client, run.id)).filter((e) => e.type === 'SHELL_OUTPUT').length >= 3, { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    expect(await leaseOwner(run.id)).toBe('stall-a');
    const stalled = / by (\w+) /.exec((await queryAllEvents(b.client, run.id)).find((e) => e.type === 'SHELL_OUTPUT')!.message)![1];

    a.child.kill('SIGSTOP');
    // b's worker was off; it takes over through crash recovery, which runs all the time, then executes the run.
    const c = await cluster.start('stall-c');
    await waitFor(async () => (await queryAllEvents(b.client, run.id)).some((e) => e.type === 'RUN_RECOVERED'), { timeoutMs: 60_000, intervalMs: 100, what: 'the takeover' });
    await waitFor(async () => (await leaseOwner(run.id)) === 'stall-c', { timeoutMs: 30_000, intervalMs: 100, what: 'stall-c to claim the run' });
    a.child.kill('SIGCONT');
    await waitFor(() => /lost its lease|LeaseLostError|lost run \d+'s lease/.test(a.output()), { timeoutMs: 30_000, intervalMs: 100, what: 'the woken instance to find its lease lost' });
    await waitFor(async () => (await statusOf(c, run.id)) === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 100, what: 'the run to complete on stall-c' });

    const events = await queryAllEvents(c.client, run.id);
    expectGaplessSeqs(events);
    const recoveredAt = events.findIndex((e) => e.type === 'RUN_RECOVERED');
    // Nothing of the stalled instance's command after the takeover, and no failure it might have recorded.
    expect(recoveredAt).toBeGreaterThan(0);
    expect(events.slice(recoveredAt).filter((e) => e.message.includes(` by ${stalled} `))).toEqual([]);
    expect(ofType(events, 'STEP_FAILED')).toEqual([]);
    expect(ofType(events, 'WORKFLOW_COMPLETED')).toHaveLength(1);
    expect(ofType(events, 'WORKFLOW_FAILED')).toHaveLength(0);
  });

  it('a subscriber on one instance follows a run on another with no gap or duplicate while Redis drops messages', async () => {
    const a = await cluster.start('sub-a', { DISABLE_WORKER: 'true' });
    const b = await cluster.start('sub-b');
    const m = marker();
    const { run } = await tickerRun(a.client, join(dir, 'sub'), { lines: 80, delay: '0.05', marker: m });
    const streamed = collect(a.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 120_000 });
    await waitFor(async () => (await queryAllEvents(a.client, run.id)).filter((e) => e.type === 'SHELL_OUTPUT').length >= 2, { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    // Redis pub/sub drops what is published while a subscriber's connection is down: cut sub-a's, a few times.
    const redis = new Redis(REDIS_URL);
    try {
      for (let i = 0; i < 6 && !/missed live/.test(a.output()); i++) {
        const clients = (await redis.call('CLIENT', 'LIST')) as string;
        for (const line of clients.split('\n')) {
          if (line.includes('name=agent-runner:sub-a') && /flags=\S*P/.test(line)) await redis.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
        }
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    } finally {
      redis.disconnect();
    }
    const events = (await streamed).map((r) => r.runEvents);
    expect(a.output()).toMatch(/missed live/);
    const stored = await queryAllEvents(b.client, run.id);
    expect(events.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    expectGaplessSeqs(events);
    expect(events.at(-1)!.type).toBe('WORKFLOW_COMPLETED');
  });

  it('stop and pause sent to one instance reach the instance executing the run', async () => {
    const a = await cluster.start('ctl-a', { DISABLE_WORKER: 'true' });
    const b = await cluster.start('ctl-b');
    const m = marker();
    const { run } = await tickerRun(a.client, join(dir, 'ctl'), { lines: 8, delay: '0.1', marker: m });
    await waitFor(async () => (await queryAllEvents(a.client, run.id)).some((e) => e.type === 'SHELL_OUTPUT'), { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    expect(await leaseOwner(run.id)).toBe('ctl-b');
    // Pause through a: takes effect at the step boundary on b.
    const { pauseRun } = await a.client.request(PauseRunDocument, { id: run.id });
    expect(pauseRun.status).toBe('RUNNING');
    await waitFor(async () => (await statusOf(a, run.id)) === 'PAUSED', { timeoutMs: 30_000, intervalMs: 50, what: 'the pause' });
    const paused = await queryAllEvents(a.client, run.id);
    expect(ofType(paused, 'STEP_COMPLETED').map((e) => e.stepName)).toEqual(['tick']);
    expect(ofType(paused, 'STEP_STARTED').map((e) => e.stepName)).toEqual(['tick']);

    // Resume through a; b goes on with `tock`. Then a long run, stopped through a while b runs its command.
    await a.client.request(ResumeRunDocument, { id: run.id });
    await waitFor(async () => (await statusOf(a, run.id)) === 'COMPLETED', { timeoutMs: 30_000, intervalMs: 50, what: 'the resumed run to complete' });

    // A pause cancelled through a before it takes effect on b: RUN_RESUMED, and the run never pauses.
    const { run: cancel } = await tickerRun(a.client, join(dir, 'ctl-cancel'), { lines: 30, delay: '0.1', marker: marker() });
    await waitFor(async () => (await queryAllEvents(a.client, cancel.id)).some((e) => e.type === 'SHELL_OUTPUT'), { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    await a.client.request(PauseRunDocument, { id: cancel.id });
    expect((await a.client.request(ResumeRunDocument, { id: cancel.id })).resumeRun.status).toBe('RUNNING');
    await waitFor(async () => (await statusOf(a, cancel.id)) === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 100, what: 'the run to complete unpaused' });
    const cancelled = await queryAllEvents(a.client, cancel.id);
    expect(ofType(cancelled, 'RUN_PAUSED')).toEqual([]);
    expect(ofType(cancelled, 'RUN_RESUMED').map((e) => e.message)).toEqual(['Pause cancelled: the run goes on without stopping.']);

    const m2 = marker();
    const { run: long } = await tickerRun(a.client, join(dir, 'ctl-long'), { lines: 600, delay: '0.1', marker: m2 });
    await waitFor(() => processesWithEnv(m2).length > 0, { timeoutMs: 60_000, intervalMs: 50, what: 'the long command to start' });
    const { stopRun } = await a.client.request(StopRunDocument, { id: long.id });
    expect(stopRun.status).toBe('STOPPED');
    const events = await queryAllEvents(a.client, long.id);
    expect(ofType(events, 'RUN_STOPPED')).toHaveLength(1);
    expectGaplessSeqs(events);
    await waitFor(() => processesWithEnv(m2).length === 0, { timeoutMs: 15_000, intervalMs: 50, what: 'the stopped command’s processes to be gone' });
  });

  it('without Redis: stop and pause reach the executing instance through the database, and a subscriber elsewhere still gets every event', async () => {
    const noRedis = { REDIS_URL: '' };
    const a = await cluster.start('db-a', { ...noRedis, DISABLE_WORKER: 'true' });
    const b = await cluster.start('db-b', noRedis);
    const { run } = await tickerRun(a.client, join(dir, 'db-ctl'), { lines: 10, delay: '0.1', marker: marker() });
    const streamed = collect(a.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 120_000 });
    await waitFor(async () => (await queryAllEvents(a.client, run.id)).some((e) => e.type === 'SHELL_OUTPUT'), { timeoutMs: 60_000, intervalMs: 50, what: 'tick output' });
    expect(await leaseOwner(run.id)).toBe('db-b');
    await a.client.request(PauseRunDocument, { id: run.id });
    await waitFor(async () => (await statusOf(a, run.id)) === 'PAUSED', { timeoutMs: 30_000, intervalMs: 50, what: 'the pause (read at a lease renewal)' });
    await a.client.request(ResumeRunDocument, { id: run.id });
    const events = (await streamed).map((r) => r.runEvents);
    expect(events.map((e) => e.seq)).toEqual((await queryAllEvents(b.client, run.id)).map((e) => e.seq));
    expectGaplessSeqs(events);
    expect(events.map((e) => e.type)).toContain('RUN_PAUSED');
    expect(events.at(-1)!.type).toBe('WORKFLOW_COMPLETED');

    const m = marker();
    const { run: long } = await tickerRun(a.client, join(dir, 'db-long'), { lines: 600, delay: '0.1', marker: m });
    await waitFor(() => processesWithEnv(m).length > 0, { timeoutMs: 60_000, intervalMs: 50, what: 'the long command to start' });
    expect((await a.client.request(StopRunDocument, { id: long.id })).stopRun.status).toBe('STOPPED');
    await waitFor(() => processesWithEnv(m).length === 0, { timeoutMs: 15_000, intervalMs: 50, what: 'the stopped command’s processes to be gone' });
  });

  it('placement: only an instance with every required label (project’s and run’s) takes a run; a run none can take says so, until one can', async () => {
    const gpu = await cluster.start('place-gpu', { WORKER_LABELS: 'gpu,host-a' });
    const plain = await cluster.start('place-plain');
    // A project's folder is checked on a machine where its runs execute: by an instance with its labels.
    await expect(plain.client.request(CreateLabelledProjectDocument, { name: 'place-0', localPath: join(dir, 'place-0'), requiredLabels: ['gpu'] })).rejects.toThrow(
      /this instance \(place-plain\) lacks gpu, so its machine is not one where this project's runs execute.*Send createProject to an instance whose WORKER_LABELS include gpu/,
    );
    const run = async (projectName: string, labels: string[], runLabels: string[] = []) => {
      const via = labels.every((l) => ['gpu', 'host-a'].includes(l)) ? gpu : null;
      const { createProject: project } = await (via ?? plain).client.request(CreateLabelledProjectDocument, { name: projectName, localPath: join(dir, projectName), requiredLabels: labels });
      expect(project.requiredLabels).toEqual([...labels].sort());
      const { createRun: created } = await plain.client.request(CreateRunDocument, {
        input: { projectId: project.id, goal: 'tick', options: { workflowName: 'ticker' }, inputs: { lines: 1, delay: '0', marker: 'place' }, requiredLabels: runLabels },
      });
      return created;
    };
    const owners = new Map<string, string | null>();
    const onGpu = await Promise.all([run('place-1', ['gpu']), run('place-2', [], ['gpu']), run('place-3', ['host-a'], ['gpu'])]);
    for (const r of onGpu) {
      await waitFor(async () => (await statusOf(plain, r.id)) === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 100, what: `run ${r.id} to complete` });
      // The executing instance logs the run's end just after its status changes.
      const done = new RegExp(`run ${r.id} completed\\b`);
      owners.set(r.id, await waitFor(() => (done.test(gpu.output()) ? 'place-gpu' : done.test(plain.output()) ? 'place-plain' : null), { what: `the log of run ${r.id}` }));
    }
    expect([...owners.values()]).toEqual(['place-gpu', 'place-gpu', 'place-gpu']);

    // Nobody has `maven`: the run waits and says why.
    const waiting = await run('place-4', [], ['maven']);
    const noted = await waitFor(async () => (await plain.client.request(RunPlacementDocument, { id: waiting.id })).run?.placement, { timeoutMs: 30_000, intervalMs: 100, what: 'a placement note' });
    expect(noted).toMatch(/No live instance has every label this run requires \(maven\)/);
    expect(noted).toMatch(/place-gpu \[gpu, host-a\]/);
    // The live instances in the order of their names, whichever instance wrote the note.
    const live = /live instances: (.*)\. Start/.exec(noted!)![1]!.split('; ').map((entry) => entry.split(' [')[0]!);
    expect(live).toEqual([...live].sort());
    expect(await statusOf(plain, waiting.id)).toBe('QUEUED');
    // An instance that has it arrives: it takes the run, and the note is gone.
    const maven = await cluster.start('place-maven', { WORKER_LABELS: 'maven' });
    await waitFor(async () => (await statusOf(plain, waiting.id)) === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 100, what: 'the maven run to complete' });
    await waitFor(() => new RegExp(`run ${waiting.id} completed\\b`).test(maven.output()), { what: 'place-maven to have executed it' });
    expect((await plain.client.request(RunPlacementDocument, { id: waiting.id })).run?.placement).toBeNull();
  });
});
