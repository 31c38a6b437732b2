/**
 * Crash recovery of an agent run, with the real server in a child process killed with SIGKILL while
 * the agent's second command runs, then started again on the same database: the conversation stored
 * so far is continued, the command that had finished is not run again, the one cut off is killed and
 * reported to the model as interrupted (not re-run), and the run completes.
 */
import { randomInt } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CreateProjectDocument, CreateRunDocument, RunDocument, RunEventsDocument } from '../../src/client/generated/graphql.js';
import { initORM } from '../../src/db/orm.js';
import { SqlStore } from '../../src/db/store.js';
import { chatMessages, conversationScript, startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { collect, makeTempDir, waitFor } from '../helpers/test-app.js';
import { AGENT_MODEL, AGENT_MODELS, call, chatRequests, dataOf, toolMessages } from '../agent/support.js';
import { expectGaplessSeqs, ofType } from '../workflow/support.js';
import { killAllServers, killProcessesMatching, liveProcessesMatching, readRunFromDatabase, spawnServer, within } from './support.js';

describe('crash recovery of an agent run', { timeout: 150_000 }, () => {
  let fake: FakeOllama;
  let dir: string;
  let databasePath: string;
  let workspace: string;
  let marker: string;

  beforeEach(async () => {
    dir = makeTempDir('agent-runner-agent-crash-');
    databasePath = join(dir, 'agent-runner.db');
    workspace = join(dir, 'workspace');
    marker = `sleep 300.${randomInt(100_000, 999_999)}`;
    fake = await startFakeOllama({ models: AGENT_MODELS });
  });

  afterEach(async () => {
    await killAllServers();
    killProcessesMatching(marker);
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('continues the conversation from the last stored tool result, without running a finished command again', async () => {
    fake.script(
      AGENT_MODEL,
      conversationScript([
        call('run_command', { command: 'echo one >> log.txt' }),
        call('run_command', { command: `${marker}; echo two >> log.txt` }),
        (req) => {
          const last = toolMessages(req).at(-1)?.[1] ?? '';
          return call('finish', { summary: last.startsWith('This call was interrupted') ? 'Told of the interruption.' : 'Not told.' });
        },
      ]),
    );
    // Unsandboxed: in the sandbox the command ends with the killed server's command runner at once,
    // and there is nothing left for recovery to kill (crash-recovery.test.ts covers both).
    const env = { DATABASE_PATH: databasePath, OLLAMA_BASE_URL: fake.url, STREAM_COALESCE_MS: '20', SANDBOX: 'off' };

    const first = await spawnServer(env);
    const { createProject: project } = await first.client.request(CreateProjectDocument, { name: 'agent-crash', localPath: workspace });
    const { createRun: run } = await first.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'Log twice', runType: 'AGENT' } });
    await waitFor(() => liveProcessesMatching(marker).length > 0, { timeoutMs: 45_000, intervalMs: 100, what: 'the second command to start' });
    first.child.kill('SIGKILL');
    expect(await within(first.exited, 10_000, 'the exit of the killed server')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(liveProcessesMatching(marker).length).toBeGreaterThan(0);

    // What the dead server left: the run RUNNING, the conversation up to the second call, its result missing.
    const crashed = await readRunFromDatabase(databasePath, run.id);
    expect(crashed.run.status).toBe('RUNNING');
    const orm = await initORM(databasePath);
    const conversation = await new SqlStore(orm).loadConversation(Number(run.id), 'agent').finally(() => orm.close(true));
    expect(conversation.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant']);
    expect(conversation[3]!.content).toBe('Exit code: 0\n(no output)');

    const second = await spawnServer(env);
    const events = (await collect(second.client.subscribe(RunEventsDocument, { runId: run.id, after: 0 }), { timeoutMs: 60_000 })).map((r) => r.runEvents);
    const { run: finished } = await second.client.request(RunDocument, { id: run.id });
    expect(finished?.status).toBe('COMPLETED');
    expect(events.at(-1)!.message).toBe('Agent run completed: Finished after 3 turns: Told of the interruption.');
    expectGaplessSeqs(events);

    // The finished command ran once; the one cut off was killed by recovery and not run again.
    expect(readFileSync(join(workspace, 'log.txt'), 'utf8')).toBe('one\n');
    expect(liveProcessesMatching(marker)).toEqual([]);
    expect(ofType(events, 'RUN_RECOVERED')[0]!.message).toContain('Killed 1 leftover process group(s).');
    expect(ofType(events, 'SHELL_EXECUTING')).toHaveLength(2);
    expect(dataOf(ofType(events, 'AGENT_STARTED')[1]!)).toMatchObject({ continuing: true, turns: 2 });
    const interrupted = ofType(events, 'AGENT_TOOL_RESULT').at(-2)!;
    expect(dataOf(interrupted)).toMatchObject({ name: 'run_command', ok: false, interrupted: true });

    // The model was asked three times in all; the third time with both results.
    const chats = chatRequests(fake);
    expect(chats).toHaveLength(3);
    expect(chatMessages(chats[2]!).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'tool']);
  });
});
