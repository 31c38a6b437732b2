/**
 * Workflow definition files through the command: `workflows validate` (every problem as
 * FILE:LINE:COLUMN), `workflows register` (a new version, or nothing when it is the same), and runs
 * of the registered workflow with typed `--input`s and `--workflow-version`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startCliServer, type CliServer } from './support.js';

const definition = (version: string, extraStep = '') => `name: greeter
version: "${version}"
description: Writes a greeting for a service.
inputs:
  service: { type: string, required: true, description: The service to greet }
  replicas: { type: number, default: 2 }
  tls: { type: boolean, default: false }
  flavour: { type: choice, options: [plain, fancy], default: plain }
steps:
  - name: greet
    type: FILE_WRITE
    outputFile: "greetings/\${{ inputs.service }}.md"
    content: "Hello \${{ inputs.service }} x\${{ inputs.replicas }} tls=\${{ inputs.tls }} \${{ inputs.flavour }}"
${extraStep}`;

const BROKEN = `name: broken
version: "1"
steps:
  - name: first
    type: FILE_WRITE
    outputFile: a.txt
  - name: second
    type: SHELL_COMMAND
  - name: third
    type: LLM_GENERATE
    prompt: 3
`;

let server: CliServer;
let dir: string;
const ar = (...args: string[]) => cli(args, { url: server.url, cwd: dir });

beforeAll(async () => {
  server = await startCliServer();
  dir = server.t.dir;
  writeFileSync(join(dir, 'greeter.yaml'), definition('1.0.0'));
  writeFileSync(join(dir, 'greeter-1.1.yaml'), definition('1.1.0', '  - name: sign\n    type: FILE_WRITE\n    outputFile: signed.txt\n    content: signed\n'));
  writeFileSync(join(dir, 'broken.yaml'), BROKEN);
  expect((await ar('projects', 'create', 'files', join(dir, 'workspaces', 'files'))).exitCode).toBe(0);
});

afterAll(async () => {
  await server.close();
});

describe('agent-runner workflows validate|register', () => {
  it('validate lists every problem with its line and column, and registers nothing', async () => {
    const result = await ar('workflows', 'validate', 'broken.yaml');
    expect(result.exitCode).toBe(3);
    expect(result.stdout.split('\n')).toEqual([
      'broken.yaml:7:5: steps[1]: missing required field "command"',
      'broken.yaml:9:5: steps[2]: missing required field "model"',
      'broken.yaml:11:13: steps[2].prompt must be a string',
    ]);
    expect(result.stderr).toBe('agent-runner: broken.yaml has 3 problems; nothing was registered.');
    const json = JSON.parse((await ar('workflows', 'validate', 'broken.yaml', '--json')).stdout);
    expect(json).toMatchObject({ valid: false, problems: [{ line: 7, column: 5, path: 'steps[1]' }, { line: 9 }, { line: 11 }] });
    expect((await ar('workflows', 'list')).stdout).not.toContain('broken');

    const unreadable = await ar('workflows', 'validate', 'missing.yaml');
    expect(unreadable.exitCode).toBe(3);
    expect(unreadable.stderr).toContain('Cannot read the workflow definition missing.yaml: ENOENT');
  });

  it('validate passes a good file (also from standard input); register adds it once; a changed file under the same version is refused', async () => {
    const valid = await ar('workflows', 'validate', 'greeter.yaml');
    expect(valid.exitCode, valid.stderr).toBe(0);
    expect(valid.stdout).toBe('greeter.yaml: greeter v1.0.0 is valid.\nRegister it with: agent-runner workflows register greeter.yaml');

    const registered = await ar('workflows', 'register', 'greeter.yaml');
    expect(registered.exitCode, registered.stderr).toBe(0);
    expect(registered.stdout).toBe('Registered greeter v1.0.0 (1 step).\nRun it with: agent-runner run greeter --project PROJECT --goal "…" --input service=… --watch');
    const again = await ar('workflows', 'register', 'greeter.yaml', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, workflow: { name: 'greeter', version: '1.0.0' } });

    const fromStdin = await cli(['workflows', 'validate', '-'], { url: server.url, input: readFileSync(join(dir, 'greeter.yaml'), 'utf8') });
    expect(fromStdin.stdout).toContain('-: greeter v1.0.0 is valid.\nVersion 1.0.0 is already registered on the server');

    writeFileSync(join(dir, 'greeter-changed.yaml'), definition('1.0.0').replace('Hello', 'Goodbye'));
    const changed = await ar('workflows', 'register', 'greeter-changed.yaml');
    expect(changed.exitCode).toBe(3);
    expect(changed.stderr).toMatch(/^agent-runner: .*1\.0\.0/);

    const broken = await ar('workflows', 'register', 'broken.yaml');
    expect(broken.exitCode).toBe(3);
    expect(broken.stderr).toMatch(/^agent-runner: broken\.yaml was not registered:\n {2}broken\.yaml:\d+:\d+: /);
  });

  it('show lists the inputs to give and the versions registered', async () => {
    expect((await ar('workflows', 'register', 'greeter-1.1.yaml')).exitCode).toBe(0);
    const show = await ar('workflows', 'show', 'greeter');
    expect(show.stdout).toContain('greeter v1.1.0: Writes a greeting for a service.');
    expect(show.stdout).toContain(
      [
        'Inputs (--input NAME=VALUE):',
        '  service (string, required): The service to greet',
        '  replicas (number, default 2)',
        '  tls (boolean, default false)',
        '  flavour (one of plain, fancy, default "plain")',
      ].join('\n'),
    );
    expect(show.stdout).toMatch(/Versions \(run one with --workflow-version\):\n {2}1\.1\.0 \(latest\) {2}api, registered .*\n {2}1\.0\.0 {2}api, registered /);
    const old = await ar('workflows', 'show', 'greeter', '--workflow-version', '1.0.0');
    expect(old.stdout).toContain('greeter v1.0.0 (not the latest)');
    const none = await ar('workflows', 'show', 'greeter', '--workflow-version', '7');
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toContain('greeter has no version "7"');
  });
});

describe('agent-runner run with inputs and versions', () => {
  it('types each --input as the workflow declares it and names every problem at once', async () => {
    const bad = await ar('run', 'greeter', '-p', 'files', '-g', 'greet', '--input', 'replicas=three', '--input', 'tls=maybe', '--input', 'flavour=odd', '--input', 'colour=red');
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr.split('\n').slice(1, 6)).toEqual([
      '  - --input replicas=three: replicas is a number.',
      '  - --input tls=maybe: tls is true or false.',
      '  - --input flavour=odd: flavour is one of plain, fancy.',
      '  - --input colour=…: greeter has no input "colour" (its inputs: service, replicas, tls, flavour).',
      '  - --input service=… is required: The service to greet.',
    ]);
  });

  it('runs the latest version with typed inputs and defaults; --workflow-version picks another', async () => {
    const latest = await ar('run', 'greeter', '-p', 'files', '-g', 'greet', '--input', 'service=billing', '--input', 'replicas=3', '--input', 'tls=yes', '--watch');
    expect(latest.exitCode, latest.stderr).toBe(0);
    expect(latest.stdout).toMatch(/^Run \d+ queued: greeter v1\.1\.0 in project files\.\nInputs: service=billing, replicas=3, tls=true, flavour=plain\n/);
    expect(latest.stdout).toMatch(/Run \d+ completed in .*: 2 of 2 steps completed, 2 files written\./);
    expect(readFileSync(join(dir, 'workspaces', 'files', 'greetings', 'billing.md'), 'utf8')).toBe('Hello billing x3 tls=true plain');

    const pinned = JSON.parse((await ar('run', 'greeter', '-p', 'files', '-g', 'greet', '--input', 'service=old', '--workflow-version', '1.0.0', '--json')).stdout);
    expect(pinned).toMatchObject({ workflowVersion: '1.0.0', inputs: { service: 'old', replicas: 2, tls: false, flavour: 'plain' } });
    expect(pinned.steps.map((s: { name: string }) => s.name)).toEqual(['greet']);

    const unknown = await ar('run', 'greeter', '-p', 'files', '-g', 'greet', '--input', 'service=x', '--workflow-version', '9.9');
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toContain('greeter has no version "9.9". Its versions: 1.1.0, 1.0.0.');
  });
});
