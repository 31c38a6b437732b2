/**
 * Crash recovery of graphs and loops, with the real server in a child process killed with SIGKILL
 * and started again on the same database: a run with two steps in flight continues with both (their
 * old processes killed, nothing completed redone), and a run killed inside a loop iteration goes on
 * at that iteration. `seq` stays gapless throughout.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { killAllServers, killProcessesMatching, liveProcessesMatching, queryAllEvents, spawnServer, within } from '../durability/support.js';
import { makeTempDir, waitFor } from '../helpers/test-app.js';
import { expectGaplessSeqs, ofType } from '../workflow/support.js';

const PAIR = `name: recover-pair
version: "1"
steps:
  - { name: first, type: SHELL_COMMAND, command: "echo first >> first.log" }
  - { name: left, type: SHELL_COMMAND, needs: [first], command: "echo left >> left.log; while [ ! -f go ]; do sleep 0.05; done # MARK-left" }
  - { name: right, type: SHELL_COMMAND, needs: [first], command: "echo right >> right.log; while [ ! -f go ]; do sleep 0.05; done # MARK-right" }
  - { name: join, type: SHELL_COMMAND, needs: [left, right], command: "echo joined >> join.log" }
`;

const LOOPED = `name: recover-loop
version: "1"
steps:
  - name: repeat
    type: LOOP
    maxIterations: 5
    until: \${{ loop.iteration == 3 }}
    steps:
      - { name: tick, type: SHELL_COMMAND, command: "echo tick \${{ loop.iteration }} >> ticks.log" }
      - name: hold
        type: SHELL_COMMAND
        command: "if [ \${{ loop.iteration }} = 2 ]; then while [ ! -f go ]; do sleep 0.05; done; fi # MARK-hold"
`;

describe('recovery of graphs and loops after kill -9', { timeout: 150_000 }, () => {
  let dir: string;
  let marker: string;

  beforeEach(() => {
    dir = makeTempDir('agent-runner-flow-crash-');
    marker = `MARK-${Date.now()}`;
    mkdirSync(join(dir, 'workflows'));
    writeFileSync(join(dir, 'workflows', 'pair.yaml'), PAIR.replaceAll('MARK', marker));
    writeFileSync(join(dir, 'workflows', 'loop.yaml'), LOOPED.replaceAll('MARK', marker));
  });
  afterEach(async () => {
    await killAllServers();
    killProcessesMatching(marker);
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_PATH: join(dir, 'agent-runner.db'), WORKFLOWS_DIR: join(dir, 'workflows'), STEP_TYPES_DIR: join(dir, 'none'), SHUTDOWN_GRACE_SECONDS: '0' });

  async function startRun(workflowName: string) {
    const server = await spawnServer(env());
    const workspace = join(dir, `workspace-${workflowName}`);
    const { createProject } = await server.client.request(CreateProjectDocument, { name: workflowName, localPath: workspace });
    const { createRun } = await server.client.request(CreateRunDocument, { input: { projectId: createProject.id, goal: 'recover', options: { workflowName } } });
    return { server, workspace, runId: createRun.id };
  }

  it('a run with two steps in flight: both go again after the restart, the completed one does not, their old processes are gone', async () => {
    const { server, workspace, runId } = await startRun('recover-pair');
    await waitFor(() => liveProcessesMatching(`${marker}-left`).length > 0 && liveProcessesMatching(`${marker}-right`).length > 0, {
      timeoutMs: 30_000,
      what: 'left and right running',
    });
    server.child.kill('SIGKILL');
    await within(server.exited, 10_000, 'the server exit');

    const again = await spawnServer(env());
    const { run: recovered } = await again.client.request(RunDocument, { id: runId });
    const events = await queryAllEvents(again.client, runId);
    const recovery = ofType(events, 'RUN_RECOVERED')[0];
    expect(recovery?.message).toMatch(/during step 2\/4 \(left\) and step 3\/4 \(right\)/);
    expect((recovery?.data as { interruptedSteps: Array<{ name: string }> }).interruptedSteps.map((s) => s.name).sort()).toEqual(['left', 'right']);
    expect(['QUEUED', 'RUNNING']).toContain(recovered?.status);
    writeFileSync(join(workspace, 'go'), '');
    await waitFor(async () => (await again.client.request(RunDocument, { id: runId })).run?.status === 'COMPLETED', { timeoutMs: 30_000, what: 'the run to complete' });
    const read = (file: string) => readFileSync(join(workspace, file), 'utf8');
    expect([read('first.log'), read('left.log'), read('right.log'), read('join.log')]).toEqual(['first\n', 'left\nleft\n', 'right\nright\n', 'joined\n']);
    expectGaplessSeqs(await queryAllEvents(again.client, runId));
    expect(liveProcessesMatching(marker)).toEqual([]);
  });

  it('a run killed inside a loop iteration goes on at that iteration', async () => {
    const { server, workspace, runId } = await startRun('recover-loop');
    await waitFor(() => liveProcessesMatching(`${marker}-hold`).length > 0 && existsSync(join(workspace, 'ticks.log')) && readFileSync(join(workspace, 'ticks.log'), 'utf8').includes('tick 2'), {
      timeoutMs: 30_000,
      what: 'the second iteration to hold',
    });
    server.child.kill('SIGKILL');
    await within(server.exited, 10_000, 'the server exit');

    const again = await spawnServer(env());
    const recovery = ofType(await queryAllEvents(again.client, runId), 'RUN_RECOVERED')[0];
    expect(recovery?.message).toContain('during step 1/1 (repeat) and step hold of loop repeat, iteration 2; it continues from step 1/1 (repeat)');
    writeFileSync(join(workspace, 'go'), '');
    await waitFor(async () => (await again.client.request(RunDocument, { id: runId })).run?.status === 'COMPLETED', { timeoutMs: 30_000, what: 'the run to complete' });
    // Iteration 2's tick was not redone; iteration 3 ran once.
    expect(readFileSync(join(workspace, 'ticks.log'), 'utf8')).toBe('tick 1\ntick 2\ntick 3\n');
    const { run } = await again.client.request(RunDocument, { id: runId });
    expect(run!.steps.filter((s) => s.loop).map((s) => [s.iteration, s.name, s.status, s.attempt])).toEqual([
      [1, 'tick', 'COMPLETED', 1],
      [1, 'hold', 'COMPLETED', 1],
      [2, 'tick', 'COMPLETED', 1],
      [2, 'hold', 'COMPLETED', 2],
      [3, 'tick', 'COMPLETED', 1],
      [3, 'hold', 'COMPLETED', 1],
    ]);
    expectGaplessSeqs(await queryAllEvents(again.client, runId));
  });
});
