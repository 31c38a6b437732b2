/**
 * The symlink race (issue 11, item 6): while a run writes the files of a coder's answer, another
 * process swaps a folder of the workspace for a symbolic link to a folder outside it, and back, over
 * and over. Files used to land outside (a temporary file created through the link, or renamed
 * through it), and temporary files were left behind. Now every file is written in a folder that was
 * opened and checked, never through a link: nothing reaches the outside folder, no temporary file is
 * left anywhere, and a write that met the link fails the step with the reason.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../../src/engine/workspace.js';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, runToEnd, testWorkflow } from '../workflow/support.js';

const SWAPPER = fileURLToPath(new URL('./swap-symlink.mjs', import.meta.url));
const CODER = 'race-coder:latest';
const FILES = 150;
const RUNS = 8;

const answer = Array.from({ length: FILES }, (_, i) => `=== FILE: src/f${i}.txt ===\nfile ${i}\n=== END FILE ===`).join('\n\n');

const workflow = testWorkflow('write-many-files', [
  { name: 'coder', type: 'LLM_GENERATE', model: CODER, description: 'Write many files', prompt: '{goal}', outputFile: 'answer.txt', extractFiles: true },
]);

/** Every file and folder below `folder`, as paths relative to it. */
function walk(folder: string, prefix = ''): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const relative = join(prefix, entry.name);
    return entry.isDirectory() ? [relative, ...walk(join(folder, entry.name), relative)] : [relative];
  });
}

describe('a symbolic link swapped into the workspace while a run writes files', () => {
  let fake: FakeOllama;
  let t: TestApp;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [CODER] });
    fake.script(CODER, { tokens: [answer] });
    t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 20 }, { workflows: [workflow] });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  /** One run writing the answer's files while the swapper swaps src/; resolves with the run and how many swaps there were. */
  async function raceOneRun(name: string, outside: string) {
    const project = await createProject(t, name);
    mkdirSync(join(project.path, 'src'), { recursive: true });
    // Swaps src/ for a link to the outside folder from the moment the first file is written.
    const swapper = spawn(process.execPath, [SWAPPER, join(project.path, 'src'), outside, '20000', join(project.path, 'src', 'f0.txt')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    swapper.stdout!.setEncoding('utf8').on('data', (text: string) => (said += text));
    const closed = new Promise((resolve) => swapper.once('close', resolve));
    try {
      await new Promise<void>((resolve) => swapper.stdout!.on('data', () => said.includes('waiting') && resolve()));
      const { run } = await runToEnd(t, project.id, { workflowName: workflow.name }, 'many files');
      swapper.stdin!.end();
      await closed;
      return { run, project, swaps: Number(/swaps (\d+)/.exec(said)?.[1] ?? 0) };
    } finally {
      swapper.kill('SIGKILL');
      await closed;
    }
  }

  it('lets no file and no temporary file out of the workspace, and leaves no temporary file in it', { timeout: 120_000 }, async () => {
    const outside = join(t.dir, 'outside');
    mkdirSync(outside);
    // A run ends at the first write that meets the link, so one run races only a few writes: several runs.
    let swaps = 0;
    for (let round = 0; round < RUNS; round++) {
      const raced = await raceOneRun(`race-${round}`, outside);
      swaps += raced.swaps;
      expect(walk(outside), `after run ${round + 1}`).toEqual([]);
      expect(walk(raced.project.path).filter((path) => path.endsWith('.tmp')), `after run ${round + 1}`).toEqual([]);
      // Either every write found the real folder, or the step failed saying which file; never COMPLETED with a file gone astray.
      if (raced.run.status === 'FAILED') expect(raced.run.error).toMatch(/src\/f\d+\.txt/);
      else expect(raced.run.status).toBe('COMPLETED');
    }
    expect(swaps).toBeGreaterThan(0);
  });

  it('the workspace writer itself, hammered: 300 writes while the folder is swapped, none out, no temporary file left', async () => {
    const root = join(t.dir, 'hammered');
    const outside = join(t.dir, 'hammered-outside');
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(outside);
    const swapper = spawn(process.execPath, [SWAPPER, join(root, 'src'), outside, '20000'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    swapper.stdout!.setEncoding('utf8').on('data', (text: string) => (said += text));
    const closed = new Promise((resolve) => swapper.once('close', resolve));
    const workspace = new Workspace(root);
    const outcomes = { written: 0, refused: 0 };
    try {
      // The writes start once the swapper does: on a loaded machine its start-up can outlast 300 writes.
      await new Promise<void>((resolve) => swapper.stdout!.on('data', () => said.includes('swapping') && resolve()));
      for (let i = 0; i < 300; i++) {
        try {
          await workspace.writeFile(`src/f${i}.txt`, `file ${i}\n`);
          outcomes.written++;
        } catch (error) {
          expect((error as Error).message).toMatch(/leads outside the project folder|Could not (write|create the folder)/);
          outcomes.refused++;
        }
      }
    } finally {
      swapper.stdin!.end();
      await closed;
    }
    expect(Number(/swaps (\d+)/.exec(said)?.[1])).toBeGreaterThan(0);
    expect(outcomes.written + outcomes.refused).toBe(300);
    expect(walk(outside)).toEqual([]);
    expect(walk(root).filter((path) => path.endsWith('.tmp'))).toEqual([]);
  });
});
