/**
 * Reading workflow definitions: every kind of problem is found at once, each with its line and
 * column; a valid file is normalised (defaults filled in); the published JSON Schema accepts what
 * the server accepts.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { StepKinds } from '../../src/engine/steps/registry.js';
import { builtInSources } from '../../src/engine/workflows/registry.js';
import { parseWorkflowDefinition } from '../../src/engine/workflows/parse.js';
import { workflowFileSchema } from '../../src/engine/workflows/schema.js';
import type { DefinitionProblem } from '../../src/engine/types.js';

const kinds = new StepKinds();
const problemsOf = (text: string): DefinitionProblem[] => parseWorkflowDefinition(text, kinds).problems;
/** Problems as "line:column message" for compact assertions. */
const located = (text: string): string[] => problemsOf(text).map((p) => `${p.line}:${p.column} ${p.message}`);

const VALID = `name: greet
version: "1.0.0"
description: Greets someone in a file, then shows it.
inputs:
  who:
    type: string
    description: Whom to greet
    required: true
  times:
    type: number
    default: 2
  tone:
    type: choice
    options: [warm, dry]
    default: warm
steps:
  - name: write
    type: FILE_WRITE
    outputFile: "greetings/\${{ inputs.who }}.txt"
    content: "Hello \${{ inputs.who }} (\${{ inputs.tone }}), goal: {goal}"
  - name: show
    type: SHELL_COMMAND
    command: cat "greetings/\${{ inputs.who }}.txt" && echo \${{ steps.write.output }}
    retry: { maxAttempts: 2 }
`;

describe('workflow definitions', () => {
  it('a valid definition is normalised: defaults filled in, inputs kept in order', () => {
    const { definition, problems } = parseWorkflowDefinition(VALID, kinds);
    expect(problems).toEqual([]);
    expect(definition).toMatchObject({
      name: 'greet',
      version: '1.0.0',
      inputs: { who: { type: 'string', required: true }, times: { type: 'number', default: 2, required: false }, tone: { type: 'choice', options: ['warm', 'dry'] } },
      steps: [
        { name: 'write', type: 'FILE_WRITE', description: 'Write greetings/${{ inputs.who }}.txt', saveArtifact: true },
        { name: 'show', type: 'SHELL_COMMAND', retry: { maxAttempts: 2, backoffSeconds: 0, backoffFactor: 1 } },
      ],
    });
    expect(Object.keys(definition!.inputs)).toEqual(['who', 'times', 'tone']);
  });

  it('JSON is read too, with the same checks', () => {
    const json = JSON.stringify(parse(VALID), null, 2);
    expect(parseWorkflowDefinition(json, kinds).definition?.name).toBe('greet');
    const broken = json.replace('"FILE_WRITE"', '"FILE_WRTE"');
    expect(located(broken)).toEqual([expect.stringMatching(/^\d+:\d+ Unknown step type "FILE_WRTE"/)]);
  });

  it('text that is not YAML: the parser’s error with its line', () => {
    expect(located('name: x\nsteps: [\n  - a\n')[0]).toBe('3:3 Not valid YAML or JSON: Block collections are not allowed within flow collections');
    expect(located('name: a\nname: b\nversion: "1"\nsteps: []\n')).toEqual(['2:1 Not valid YAML or JSON: Map keys must be unique']);
  });

  it('the YAML mistakes made most say what to do: a colon in a value, indentation, tabs', () => {
    const head = 'name: x\nversion: "1"\nsteps:\n  - name: a\n    type: LLM_GENERATE\n    model: m\n';
    expect(located(`${head}    prompt: Plan: {goal}\n`)).toEqual([expect.stringMatching(/^7:13 Not valid YAML or JSON: .*\(a value holding ": " must be quoted, such as prompt: "Plan: \{goal\}", or written as a block/)]);
    expect(located(`${head}   prompt: Plan\n`)).toEqual([expect.stringMatching(/^7:1 Not valid YAML or JSON: .*\(check the indentation here .*the fields of one step start at the same column\)$/)]);
    expect(located('name: x\nversion: "1"\nsteps:\n\t- name: a\n')).toEqual([expect.stringMatching(/\(indent with spaces, not tabs\)$/)]);
  });

  it('structure: unknown, missing and mistyped fields, each where it is written', () => {
    const text = `name: bad name
version: 1.0
steps:
  - name: plan
    type: LLM_GENERATE
    prompt: 42
    outptFile: PLAN.md
  - type: SHELL_COMMAND
    command: ls
    timeoutSeconds: -1
`;
    expect(located(text)).toEqual([
      '1:7 name must start with a letter or digit and hold only letters, digits, ".", "_" and "-"',
      '2:10 version must be a string: write version: "1.0" (quoted), since YAML reads 1.0 as a number',
      '4:5 steps[0]: missing required field "model"',
      '6:13 steps[0].prompt must be a string',
      '7:5 steps[0]: unknown field "outptFile" (did you mean "outputFile"?). Allowed here: name, type, description, saveArtifact, timeoutSeconds, continueOnError, retry, needs, if, model, prompt, system, outputFile, extractFiles, think, options, structuredOutput',
      '8:5 steps[1]: missing required field "name"',
      '10:21 steps[1].timeoutSeconds must be > 0',
    ]);
  });

  it('meaning: duplicate names, unknown types, references to unknown inputs and to steps that do not run before', () => {
    const text = `name: refs
version: "2"
inputs:
  service: { type: string }
steps:
  - name: plan
    type: LLM_GENERATE
    model: m
    prompt: "Plan \${{ inputs.servce }} using {output:code} and \${{ steps.code.output }}"
  - name: code
    type: LLM_GENERATE
    model: m
    prompt: |
      Write \${{ steps.plan.outpt }}
      for \${{ project.dir }} and \${{ secrets.token }}
  - name: Plan
    type: HTTP_GET
  - name: copy
    type: FILE_WRITE
    outputFile: out.txt
    contentFrom: nowhere
`;
    expect(located(text)).toEqual([
      '17:11 Unknown step type "HTTP_GET". Types on this server: LLM_GENERATE, FILE_WRITE, SHELL_COMMAND, MAVEN_COMMAND, LOOP, FAILURE_REPORT, AGENT',
    ]);
    const withoutType = text.replace('    type: HTTP_GET\n', '    type: SHELL_COMMAND\n    command: "true"\n');
    expect(located(withoutType)).toEqual([
      '9:19 steps[0].prompt: in "${{ inputs.servce }}": inputs.servce is not an input of this workflow; its inputs: service',
      '9:46 steps[0].prompt: {output:code}: step "plan" refers to step "code", which does not run before it; a step can only use the results of steps it needs (directly, through needs or the order of the file, or through the steps those need)',
      '9:64 steps[0].prompt: in "${{ steps.code.output }}": step "plan" refers to step "code", which does not run before it; a step can only use the results of steps it needs (directly, through needs or the order of the file, or through the steps those need)',
      '14:13 steps[1].prompt: in "${{ steps.plan.outpt }}": steps.plan.outpt does not exist; a step has output, outcome, conclusion, exitCode',
      '15:11 steps[1].prompt: in "${{ project.dir }}": project.dir does not exist; project has name, path',
      '15:38 steps[1].prompt: in "${{ secrets.token }}": "secrets" is not something an expression can use; use one of inputs, goal, steps, run, project, loop (such as inputs.NAME or steps.NAME.output)',
      '16:11 Two steps are named "Plan" (steps[0] and steps[2]): step names must be unique in the workflow, loops included',
      '22:18 step "copy" refers to step "nowhere", which this workflow does not have',
    ]);
  });

  it('expressions: syntax errors, status functions outside conditions, values inside single quotes in a command', () => {
    const text = `name: expr
version: "1"
inputs:
  name: { type: string, default: x }
steps:
  - name: run
    type: SHELL_COMMAND
    command: echo '\${{ inputs.name }}' && echo \${{ inputs.name ==  }} && echo \${{ success() }}
  - name: open
    type: FILE_WRITE
    outputFile: a.txt
    content: "\${{ inputs.name"
`;
    expect(located(text)).toEqual([
      '8:20 steps[0].command: "${{ inputs.name }}" is inside single quotes. Its value reaches the command as an environment variable, which single quotes would not expand: move it outside the quotes (it is quoted for you)',
      '8:64 steps[0].command: in "${{ inputs.name == }}": Unexpected end of expression: \'==\'',
      '8:83 steps[0].command: in "${{ success() }}": success() can only be used in a step\'s "if" condition',
      '12:15 steps[1].content: an expression opened with "${{" is never closed with "}}"',
    ]);
  });

  it('inputs: defaults of the wrong type, a choice without options, options on a string', () => {
    const text = `name: inputs
version: "1"
inputs:
  count: { type: number, default: "three" }
  level: { type: choice }
  mode: { type: choice, options: [a, b], default: c }
  text: { type: string, options: [a] }
  flag: { type: bool }
steps:
  - { name: s, type: SHELL_COMMAND, command: "true" }
`;
    expect(located(text)).toEqual([
      '8:17 inputs.flag.type must be one of: string, number, boolean, choice',
    ]);
    expect(located(text.replace('type: bool', 'type: boolean'))).toEqual([
      '4:35 inputs.count.default must be a number (got string "three")',
      '5:10 inputs.level: a choice input needs its options (the allowed values)',
      '6:51 inputs.mode.default must be one of "a", "b" (got "c")',
      '7:25 inputs.text: only a choice input has options (this one is a string)',
    ]);
  });

  it('the published JSON Schema accepts the built-in workflows and refuses what the server refuses', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(workflowFileSchema(kinds.list()));
    for (const { file, source } of builtInSources()) expect(validate(parse(source)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    expect(validate(parse(VALID)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(parse(VALID.replace('outputFile: "greetings', 'outputFle: "greetings')))).toBe(false);
    expect(validate(parse(VALID.replace('type: SHELL_COMMAND', 'type: SHELL')))).toBe(false);
    const committed = JSON.parse(readFileSync(new URL('../../schemas/workflow.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(workflowFileSchema(kinds.list()));
  });
});
