/**
 * The template and expression layer on its own: GitHub's evaluator, the seed's placeholders, one-pass
 * substitution, commands whose values travel in environment variables, and conditions with the
 * status functions.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { evaluateCondition, parseTemplate, referencesOf, renderCommand, renderTemplate, type ExpressionValues } from '../../src/engine/expressions.js';

const values: ExpressionValues = {
  goal: 'a {goal} with ${{ inputs.name }} inside',
  inputs: { name: 'Ada', count: 3, loud: true, weird: "it's \"quoted\" $HOME `x`" },
  steps: { plan: { output: 'PLAN {output:plan}', outcome: 'success', exitCode: null }, build: { output: '', outcome: 'failure', exitCode: 2 } },
  run: { id: 42, name: null, workflow: 'w', version: '1.2.0' },
  project: { name: 'demo', path: '/tmp/demo' },
};

describe('templates', () => {
  it('render expressions, the seed placeholders and literals, in one pass', () => {
    expect(renderTemplate('Hi ${{ inputs.name }} ×${{ inputs.count }} ${{ inputs.loud }} in ${{ project.path }} run ${{ run.id }} v${{ run.version }}', values)).toBe(
      'Hi Ada ×3 true in /tmp/demo run 42 v1.2.0',
    );
    // What a value brings in is never rendered again.
    expect(renderTemplate('{goal} | {output:plan} | ${{ steps.plan.output }}', values)).toBe(`${values.goal} | PLAN {output:plan} | PLAN {output:plan}`);
    expect(renderTemplate("${{ format('{0}-{1}', inputs.name, steps.build.exitCode) }} ${{ '}}' }} ${{ toJSON(steps.build) }}", values)).toBe(
      `Ada-2 }} ${JSON.stringify(values.steps.build, null, 2)}`,
    );
    expect(renderTemplate('${{ inputs.absent }}|${{ steps.nothing.output }}|{output:nothing}', values)).toBe('||');
    expect(renderTemplate('no placeholders, {braces} and ${ not an expression }', values)).toBe('no placeholders, {braces} and ${ not an expression }');
  });

  it('report what they refer to', () => {
    const { parts } = parseTemplate("${{ steps.plan.output }} ${{ inputs['name'] }} ${{ contains(steps[inputs.pick].output, goal) }}");
    const refs = parts.flatMap((p) => (p.kind === 'expression' ? referencesOf(p.expr).map((r) => `${r.context}.${r.path.join('.')}`) : []));
    expect(refs).toEqual(['steps.plan.output', 'inputs.name', 'steps.', 'inputs.pick', 'goal.']);
  });

  it('commands: values go into environment variables, quoted where they stand', () => {
    const { command, env } = renderCommand('echo ${{ inputs.weird }} "said ${{ inputs.name }}" {goal}', values);
    expect(command).toBe('echo "${AGENT_RUNNER_EXPR_1}" "said ${AGENT_RUNNER_EXPR_2}" "${AGENT_RUNNER_EXPR_3}"');
    expect(env).toEqual({ AGENT_RUNNER_EXPR_1: values.inputs.weird, AGENT_RUNNER_EXPR_2: 'Ada', AGENT_RUNNER_EXPR_3: values.goal });
    // Run by a real shell, the values come out exactly as given.
    const out = execFileSync('/bin/sh', ['-c', command], { env: { ...env, PATH: process.env.PATH }, encoding: 'utf8' });
    expect(out).toBe(`${values.inputs.weird} said Ada ${values.goal}\n`);
  });

  it('conditions: GitHub truthiness and the status functions', () => {
    const ok = { failed: false, cancelled: false };
    expect(evaluateCondition("steps.build.outcome == 'failure' && steps.build.exitCode == 2", values, ok)).toBe(true);
    expect(evaluateCondition('${{ inputs.count > 2 }}', values, ok)).toBe(true);
    expect(evaluateCondition("steps.plan.output != ''", values, ok)).toBe(true);
    expect(evaluateCondition('inputs.absent', values, ok)).toBe(false);
    expect(evaluateCondition('success()', values, ok)).toBe(true);
    expect(evaluateCondition('success()', values, { failed: true, cancelled: false })).toBe(false);
    expect(evaluateCondition('failure()', values, { failed: true, cancelled: false })).toBe(true);
    expect(evaluateCondition('always()', values, { failed: true, cancelled: true })).toBe(true);
    expect(evaluateCondition('cancelled()', values, { failed: false, cancelled: true })).toBe(true);
  });
});
