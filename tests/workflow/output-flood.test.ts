/**
 * Output floods (issue 10, item 5), through the real server: a step runs `yes` for a few seconds
 * while another run executes and a client keeps querying. The flooding step completes with its
 * stored output bounded (the first and last halves of COMMAND_OUTPUT_LIMIT_BYTES per stream), says
 * how many bytes it dropped (in its events, STEP_COMPLETED and the output artifact), stores the text
 * of each SHELL_OUTPUT once, and the database grows by little; the other run completes meanwhile and
 * the API answers. Speed is the benchmark's business (bench/scenarios/flood.ts), not this test's.
 */
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ArtifactsDocument, RunDocument } from '../../src/client/generated/graphql.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { createProject, createRun, getRun, ofType, queryEvents, streamToEnd, testWorkflow } from './support.js';

const LIMIT = 64 * 1024;

describe('a step that floods its output', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is stored bounded (head and tail, the dropped bytes counted), while another run completes and the API answers', async () => {
    t = await startTestApp(
      { commandOutputLimitBytes: LIMIT, workerConcurrency: 2, streamCoalesceMs: 20 },
      {
        workflows: [
          testWorkflow('flood', [{ name: 'flood', type: 'SHELL_COMMAND', command: "echo first line; timeout 3 yes; echo 'last line' >&2; echo the end", saveArtifact: true }]),
          testWorkflow('other', [
            { name: 'one', type: 'SHELL_COMMAND', command: 'echo one' },
            { name: 'two', type: 'SHELL_COMMAND', command: 'echo two' },
          ]),
        ],
      },
    );
    const databaseBytes = () => ['', '-wal'].reduce((sum, suffix) => sum + (statSync(t!.config.databasePath + suffix, { throwIfNoEntry: false })?.size ?? 0), 0);
    const before = databaseBytes();
    const project = await createProject(t);
    const flood = await createRun(t, project.id, { workflowName: 'flood' });
    const floodEvents = streamToEnd(t, flood.id, 60_000);
    // Flooding now (past its head): the API answers about it, another run runs to its end.
    await waitFor(async () => (await queryEvents(t!, flood.id)).some((e) => (e.data as { heldBack?: boolean } | null)?.heldBack), { what: 'the flood to pass its head' });
    const { run: during } = await t.client.request(RunDocument, { id: flood.id });
    expect(during?.status).toBe('RUNNING');
    const other = await createRun(t, project.id, { workflowName: 'other' });
    const otherEvents = await streamToEnd(t, other.id, 30_000);
    expect(otherEvents.at(-1)?.type).toBe('WORKFLOW_COMPLETED');

    const events = await floodEvents;
    expect(events.at(-1)?.type).toBe('WORKFLOW_COMPLETED');
    const completed = ofType(events, 'STEP_COMPLETED')[0]!;
    const dropped = (completed.data as { droppedBytes: { stdout: number; stderr: number } }).droppedBytes;
    expect(completed.data).toMatchObject({ exitCode: 0, truncated: true });
    expect(dropped.stdout).toBeGreaterThan(LIMIT);
    expect(dropped.stderr).toBe(0);

    const output = ofType(events, 'SHELL_OUTPUT');
    const stdout = output.filter((e) => (e.data as { stream: string }).stream === 'stdout');
    // Every event gives its text back in both fields.
    for (const event of output) expect((event.data as { text: string }).text).toBe(event.message);
    const text = stdout.map((e) => e.message).join('');
    expect(text.startsWith('first line\ny\ny\n')).toBe(true);
    expect(text.endsWith('y\nthe end\n')).toBe(true);
    expect(text).toContain('[… stdout goes on past 32 KiB: the rest is held back, its last 32 KiB follow when the command ends …]');
    expect(text).toContain(`[… ${dropped.stdout} bytes of stdout dropped …]`);
    expect(Buffer.byteLength(text)).toBeLessThan(LIMIT + 1024);
    expect(output.filter((e) => (e.data as { stream: string }).stream === 'stderr').map((e) => e.message).join('')).toBe('last line\n');

    const { run: stored } = await t.client.request(ArtifactsDocument, { runId: flood.id, maxBytes: 2 * LIMIT });
    const artifact = stored?.artifacts.find((a) => a.path === 'flood_output.txt');
    expect(artifact?.content).toContain(`[… ${dropped.stdout} bytes of output dropped …]`);
    expect(artifact!.sizeBytes).toBeLessThan(LIMIT + 1024);
    expect((await getRun(t, flood.id)).status).toBe('COMPLETED');
    // The head and the tail, once each in the events, and the step's output: well under a megabyte.
    expect(databaseBytes() - before).toBeLessThan(1024 * 1024);
  });
});
