/**
 * FAILURE_REPORT's reading of build outputs: Maven's compiler errors and Surefire failures (2.x and
 * 3.x), javac, tsc, gcc and pytest lines; files resolved inside the workspace only.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failureReport, readFailures } from '../../src/engine/steps/failure-report.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

let folder: Awaited<ReturnType<typeof makeTempFolder>>;
beforeEach(async () => {
  folder = await makeTempFolder('report-');
});
afterEach(() => folder.remove());

describe('FAILURE_REPORT', () => {
  it('reads Maven compiler errors with their files and lines, relative to the workspace', () => {
    const output = [
      '[INFO] --- compiler:3.13.0:compile (default-compile) @ greeting ---',
      `[ERROR] ${folder.path}/src/main/java/org/acme/Greeting.java:[12,16] cannot find symbol`,
      '[ERROR]   symbol:   variable nme',
      `[ERROR] /etc/elsewhere/Other.java:[1,1] outside the workspace`,
      '[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.13.0:compile (default-compile) on project greeting: Compilation failure',
    ].join('\n');
    expect(readFailures(output, folder.path)).toEqual([
      { kind: 'compile', message: 'cannot find symbol', file: 'src/main/java/org/acme/Greeting.java', line: 12 },
      { kind: 'compile', message: 'outside the workspace', file: undefined, line: 1 },
      { kind: 'error', message: 'Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.13.0:compile (default-compile) on project greeting: Compilation failure' },
    ]);
  });

  it('reads Surefire failures, tsc, gcc and pytest lines', () => {
    const output = [
      '[ERROR] Failures: ',
      '[ERROR]   GreetingTest.hello:23 expected: <Hello> but was: <Hi>',
      '[ERROR] org.acme.OtherTest.works -- Time elapsed: 0.01 s <<< ERROR!',
      'src/app.ts(3,7): error TS2322: Type string is not assignable to type number.',
      'main.c:10:5: error: expected ; before } token',
      'tests/test_x.py:14: AssertionError',
    ].join('\n');
    expect(readFailures(output, folder.path).map((f) => [f.kind, f.test ?? f.file, f.line, f.message])).toEqual([
      ['test', 'GreetingTest.hello', 23, 'expected: <Hello> but was: <Hi>'],
      ['test', 'OtherTest.works', undefined, 'the test threw an error'],
      ['compile', 'src/app.ts', 3, 'TS2322: Type string is not assignable to type number.'],
      ['compile', 'main.c', 10, 'expected ; before } token'],
      ['compile', 'tests/test_x.py', 14, 'AssertionError'],
    ]);
  });

  it('writes a report with the failures, the output’s end and the files involved, within its byte limit', async () => {
    await mkdir(path.join(folder.path, 'src/main/java/org/acme'), { recursive: true });
    await mkdir(path.join(folder.path, 'src/test/java/org/acme'), { recursive: true });
    await writeFile(path.join(folder.path, 'src/main/java/org/acme/Greeting.java'), 'class Greeting {}\n');
    await writeFile(path.join(folder.path, 'src/test/java/org/acme/GreetingTest.java'), 'class GreetingTest {}\n');
    await writeFile(path.join(folder.path, 'pom.xml'), '<project/>\n');
    const output = '[ERROR]   GreetingTest.hello:23 expected: <Hello> but was: <Hi>\n[INFO] BUILD FAILURE\n';
    const test = createTestStepContext({ root: folder.path, step: { type: 'FAILURE_REPORT', name: 'report', output } });
    const result = await failureReport(test.ctx);
    expect(result.output).toBe(
      [
        '## What failed',
        '',
        '- Test GreetingTest.hello failed (line 23): expected: <Hello> but was: <Hi>',
        '',
        '## The last lines of the output',
        '',
        '```',
        '[ERROR]   GreetingTest.hello:23 expected: <Hello> but was: <Hi>',
        '[INFO] BUILD FAILURE',
        '```',
        '## The files involved, as they are now',
        '',
        '=== FILE: src/test/java/org/acme/GreetingTest.java ===',
        'class GreetingTest {}',
        '=== END FILE ===',
        '',
        '=== FILE: src/main/java/org/acme/Greeting.java ===',
        'class Greeting {}',
        '=== END FILE ===',
        '',
        '',
      ].join('\n'),
    );
    expect(result.data).toMatchObject({ failures: 1, tests: 1, errors: 0, files: ['src/test/java/org/acme/GreetingTest.java', 'src/main/java/org/acme/Greeting.java'] });
    const small = createTestStepContext({ root: folder.path, step: { type: 'FAILURE_REPORT', name: 'report', output, maxBytes: 1000, maxFiles: 1 } });
    const limited = await failureReport(small.ctx);
    expect(limited.data).toMatchObject({ files: ['src/test/java/org/acme/GreetingTest.java'] });
  });
});
