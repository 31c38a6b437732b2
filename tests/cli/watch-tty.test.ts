/**
 * `agent-runner watch` in a terminal (a pseudo-terminal from util-linux `script`): the steps are
 * drawn in place — the screen a terminal shows (read with @xterm/headless) has each step once,
 * while the bytes sent redrew it many times — with a spinner and elapsed time on the running step
 * and its last output lines under it; the summary stays below; Ctrl-C detaches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, PROJECT_FILES, coderAnswer, tokensOf } from '../workflow/support.js';
import { cli, screenOf, startCliInTerminal, startCliServer, type CliServer } from './support.js';

const GOAL = 'Generate Quarkus GraphQL + OpenTelemetry project';
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

let server: CliServer;
let t: TestApp;
let projectCount = 0;

/**
 * `run … --watch` in a terminal, in a new project: the command creates the run and follows it at
 * once, so the steps are seen live however long the command takes to start on a loaded machine.
 */
async function runAndWatch(): Promise<{ watching: ReturnType<typeof startCliInTerminal>; transcript: () => string; runId: () => string | undefined }> {
  const name = `tty-${++projectCount}`;
  expect((await cli(['projects', 'create', name, `${t.dir}/workspaces/${name}`], { url: server.url })).exitCode).toBe(0);
  const watching = startCliInTerminal(['run', 'quarkus-bootstrap-v1', '--project', name, '--goal', GOAL, '--watch'], { url: server.url, cols: 100, rows: 30 });
  const transcript = transcriptOf(watching);
  return { watching, transcript, runId: () => /Run (\d+) queued/.exec(transcript())?.[1] };
}

/** What the terminal has received so far. */
function transcriptOf(child: ReturnType<typeof startCliInTerminal>): () => string {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return () => text;
}

beforeAll(async () => {
  server = await startCliServer();
  t = server.t;
  // Slow enough that the planner is seen generating: 8 tokens 150 ms apart, then a streamed coder.
  server.fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs: 150 });
  server.fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer(), 2), tokenDelayMs: 30 });
});

afterAll(async () => {
  await server.close();
});

describe('agent-runner watch in a terminal', { timeout: 90_000 }, () => {
  it('draws the steps in place: a spinner, elapsed time and the last output lines while running; durations and a summary at the end', async () => {
    const { watching, transcript, runId: idOf } = await runAndWatch();

    // Mid-run: the planner has a spinner and its elapsed time, the plan's lines under it, the rest pending.
    const during = await waitFor(
      async () => {
        const screen = await screenOf(transcript(), 100, 30);
        // A whole frame: the terminal may have received only the top of a redraw (its footer comes last).
        const whole = screen.at(-1)?.startsWith('Ctrl-C detaches') === true;
        return whole && screen.some((line) => line.includes('│ A Quarkus service')) ? screen : null;
      },
      { timeoutMs: 30_000, what: 'the planner streaming on screen' },
    );
    const runId = idOf()!;
    const stepLine = (screen: string[], step: string) => screen.filter((line) => new RegExp(`^ {2}\\S ${step} `).test(line));
    const plannerLine = stepLine(during, 'planner')[0];
    expect(plannerLine).toMatch(new RegExp(`^ {2}${SPINNER.source} planner {5}\\d+\\.\\ds +Create project plan using gemma3:27b$`));
    expect(stepLine(during, 'coder')[0]).toMatch(/^ {2}◻ coder {7} +Generate Maven project files using qwen3-coder/);
    expect(during).toContain(`${' '.repeat(24)}│ # Project plan`); // under the description
    expect(during.some((line) => line.startsWith(`Run ${runId} · quarkus-bootstrap-v1 · project tty-1 · RUNNING `))).toBe(true);
    expect(during[0]).toBe(`Run ${runId} queued: quarkus-bootstrap-v1 v1.0.0 in project tty-1.`);
    expect(during.at(-1)).toBe(`Ctrl-C detaches; the run goes on (agent-runner watch ${runId} to come back).`);

    const result = await watching;
    expect(result.exitCode).toBe(0);
    const raw = transcript();
    const screen = await screenOf(raw, 100, 30);
    // In place: on screen each step's line is there once; the terminal was sent it many times over.
    for (const step of ['planner', 'coder', 'maven_test']) {
      const onScreen = screen.filter((line) => new RegExp(`^ {2}\\S ${step} `).test(line));
      expect(onScreen, step).toHaveLength(1);
      expect(onScreen[0], step).toMatch(new RegExp(`^ {2}✔ ${step} +\\d+\\.\\ds `));
    }
    expect(raw.split('planner').length).toBeGreaterThan(10);
    expect(screen.filter((line) => line.startsWith(`Run ${runId} · `))).toEqual([expect.stringMatching(/ · COMPLETED \d+\.\ds$/)]);
    // The output lines and the footer were part of the live frame only.
    expect(screen.some((line) => line.includes('│ '))).toBe(false);
    expect(screen.some((line) => line.startsWith('Ctrl-C'))).toBe(false);
    const summary = screen.findIndex((line) => line.startsWith(`Run ${runId} completed in `));
    expect(summary).toBeGreaterThan(screen.findIndex((line) => line.includes('✔ maven_test')));
    expect(screen.slice(summary)).toContain(`  pom.xml (${PROJECT_FILES['pom.xml'].length + 1} B)`);
  });

  it('Ctrl-C detaches, leaving the last frame, and says how to reattach', async () => {
    const { watching, transcript, runId: idOf } = await runAndWatch();
    await waitFor(async () => (await screenOf(transcript())).some((line) => line.includes('│ ')), { timeoutMs: 30_000, what: 'output on screen' });
    const runId = idOf()!;
    watching.stdin?.write('\x03');
    const result = await watching;
    expect(result.exitCode).toBe(130);
    const screen = await screenOf(transcript());
    expect(screen).toContain(`Detached from run ${runId}; it goes on. Reattach with: agent-runner watch ${runId}`);
    expect(screen.filter((line) => /^ {2}\S planner /.test(line))).toHaveLength(1);
  });
});
