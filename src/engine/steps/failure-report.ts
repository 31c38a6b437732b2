import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { StepError, type FailureReportStep, type StepContext, type StepExecutor } from '../types.js';
import type { BuiltInStepKind } from './registry.js';

/** Files whose contents a report holds at most, unless the step says otherwise. */
const DEFAULT_MAX_FILES = 8;
/** Bytes of a report at most, unless the step says otherwise. */
const DEFAULT_MAX_BYTES = 60_000;
/** Lines of the build output's end quoted in every report. */
const TAIL_LINES = 40;
/** Folders never searched for a class's source file. */
const SKIPPED_FOLDERS = new Set(['node_modules', 'target', 'build', 'dist', '.git', '.mvn', '.gradle', '.idea']);

/** One thing that failed, as read from the output. */
export interface Failure {
  kind: 'compile' | 'test' | 'error';
  message: string;
  /** The workspace file it points at, when known. */
  file?: string;
  line?: number;
  /** A failing test, as `Class.method`. */
  test?: string;
}

/**
 * FAILURE_REPORT: reads a build's or a test run's output and writes, for a model asked to fix it, the
 * failing tests and the errors (with their files and lines), the last lines of the output, then the
 * workspace files involved, each as a `=== FILE: path ===` block (the form the coder answers in).
 * It reads Maven and javac (compiler errors, Surefire failures and stack traces), and any tool that
 * prints `path:line` (tsc, gcc, eslint, pytest's tracebacks). Never fails for want of a failure: an
 * output with none gives a report that says so.
 */
export const failureReport: StepExecutor<FailureReportStep> = async (ctx) => {
  const { step } = ctx;
  const output = step.output ?? (step.outputFile ? await ctx.workspace.readFile(step.outputFile) : undefined);
  if (output === undefined) throw new StepError(`Step "${step.name}" has neither output nor outputFile to read`, { retryable: false });
  const maxFiles = step.maxFiles ?? DEFAULT_MAX_FILES;
  const maxBytes = step.maxBytes ?? DEFAULT_MAX_BYTES;

  const failures = readFailures(output, ctx.workspace.root);
  const files = await filesInvolved(ctx, failures, output, maxFiles);
  const report = writeReport(failures, output, files, maxBytes);
  const tests = failures.filter((f) => f.kind === 'test').length;
  const errors = failures.length - tests;
  ctx.log(`Read ${failures.length} failure${failures.length === 1 ? '' : 's'} (${tests} test${tests === 1 ? '' : 's'}, ${errors} error${errors === 1 ? '' : 's'}); ${files.length} file${files.length === 1 ? '' : 's'} involved`, {
    failures: failures.slice(0, 50),
    files: files.map((f) => f.path),
  });
  return {
    output: report.text,
    data: { failures: failures.length, tests, errors, files: files.map((f) => f.path), truncated: report.truncated },
    summary: failures.length === 0 ? 'No failure found in the output' : `${failures.length} failure${failures.length === 1 ? '' : 's'}, ${files.length} file${files.length === 1 ? '' : 's'} involved`,
  };
};

/** ANSI colour codes (Maven colours its output on a terminal). */
const ANSI = /\u001b\[[0-9;]*m/g;

/** The failures an output tells of, in the order it tells them, each once. */
export function readFailures(output: string, root: string): Failure[] {
  const failures: Failure[] = [];
  const seen = new Set<string>();
  const add = (failure: Failure) => {
    const key = `${failure.kind}|${failure.file ?? ''}|${failure.line ?? ''}|${failure.test ?? ''}|${failure.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      failures.push(failure);
    }
  };
  const relative = (file: string) => {
    const absolute = path.resolve(root, file);
    const inside = path.relative(root, absolute);
    return inside.startsWith('..') || path.isAbsolute(inside) ? undefined : inside;
  };
  for (const raw of output.replace(ANSI, '').split(/\r?\n/)) {
    const line = raw.replace(/^\[(?:ERROR|WARNING|INFO)\]\s*/, '');
    // javac through Maven: /abs/path/Foo.java:[12,34] cannot find symbol
    let match = /^(\S+\.(?:java|kt|scala|groovy)):\[(\d+),\d+\]\s*(.*)$/.exec(line);
    if (match && raw.startsWith('[ERROR]')) {
      add({ kind: 'compile', message: match[3] || 'compilation error', file: relative(match[1]!), line: Number(match[2]) });
      continue;
    }
    // Surefire's summary: "  GreetingTest.hello:23 expected: <a> but was: <b>" (under "Failures:" / "Errors:")
    match = /^\s*(?:Run \d+: )?([A-Z][\w$]*)\.(\w+):(\d+)\s+(.*)$/.exec(line);
    if (match && raw.startsWith('[ERROR]')) {
      add({ kind: 'test', test: `${match[1]}.${match[2]}`, line: Number(match[3]), message: match[4]! });
      continue;
    }
    // Surefire (3.x): "org.acme.GreetingTest.hello -- Time elapsed: 0.01 s <<< FAILURE!"
    match = /^([\w.$]+)\.(\w+)\s+--\s+Time elapsed.*<<<\s+(FAILURE|ERROR)!/.exec(line);
    if (match) {
      add({ kind: 'test', test: `${match[1]!.split('.').at(-1)}.${match[2]}`, message: match[3] === 'ERROR' ? 'the test threw an error' : 'the test failed' });
      continue;
    }
    // javac alone, gcc, tsc, eslint: path:line[:column]: message
    match = /^\s*((?:\.{0,2}\/)?[\w@.-]+(?:\/[\w@.-]+)*\.[A-Za-z]{1,6})[:(](\d+)(?:[:,]\d+)?\)?:?\s+(?:error|fatal error|ERROR)?[:\s]*(.*)$/.exec(line);
    if (match && /error|fail|cannot|undefined|expected|not found|exception/i.test(line)) {
      const file = relative(match[1]!);
      if (file) add({ kind: 'compile', message: match[3] || 'error', file, line: Number(match[2]) });
      continue;
    }
    // Maven's own errors (dependencies, plugins) and Java exceptions at the start of a line.
    match = /^(Failed to execute goal .*|Could not resolve dependencies .*|Non-resolvable .*|[\w.]+(?:Exception|Error): .*)$/.exec(line);
    if (match && raw.startsWith('[ERROR]')) add({ kind: 'error', message: match[1]!.slice(0, 500) });
  }
  return failures;
}

interface ReportFile {
  path: string;
  content: string;
}

/** The workspace files the failures point at (directly, or as a failing test's class and the class it tests), the build file when a dependency failed. */
async function filesInvolved(ctx: StepContext<FailureReportStep>, failures: Failure[], output: string, maxFiles: number): Promise<ReportFile[]> {
  const wanted: string[] = [];
  const want = (file: string | undefined) => {
    if (file && !wanted.includes(file)) wanted.push(file);
  };
  for (const failure of failures) want(failure.file);
  const tests = failures.filter((f) => f.test).map((f) => f.test!.split('.')[0]!);
  if (tests.length > 0 || failures.some((f) => f.kind === 'compile')) {
    const sources = await sourceFiles(ctx.workspace.root);
    for (const test of tests) {
      want(sources.get(`${test}.java`) ?? sources.get(`${test}.kt`));
      // GreetingResourceTest tests GreetingResource.
      const tested = test.replace(/(?:IT|Tests?|Spec)$/, '');
      if (tested !== test) want(sources.get(`${tested}.java`) ?? sources.get(`${tested}.kt`));
    }
    // Stack frames of the project's own code: at org.acme.Greeting.hello(Greeting.java:12)
    for (const [, file] of output.matchAll(/\bat [\w.$]+\(([\w$]+\.(?:java|kt)):\d+\)/g)) want(sources.get(file!));
  }
  if (/Could not resolve dependencies|Non-resolvable|package [\w.]+ does not exist|dependencies\.dependency/i.test(output)) want('pom.xml');
  const files: ReportFile[] = [];
  for (const file of wanted) {
    if (files.length >= maxFiles) break;
    try {
      files.push({ path: file, content: await ctx.workspace.readFile(file) });
    } catch {
      // Gone, unreadable, or outside the workspace: the failure still names it.
    }
  }
  return files;
}

/** Source files of the workspace by file name (the first found wins), skipping build output and dependencies. */
async function sourceFiles(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (folder: string, depth: number): Promise<void> => {
    if (depth > 12 || found.size > 5000) return;
    let entries;
    try {
      entries = await readdir(path.join(root, folder), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const relativePath = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory() && !SKIPPED_FOLDERS.has(entry.name) && !entry.name.startsWith('.')) await walk(relativePath, depth + 1);
      else if (entry.isFile() && /\.(java|kt)$/.test(entry.name) && !found.has(entry.name)) found.set(entry.name, relativePath);
    }
  };
  await walk('', 0);
  return found;
}

function writeReport(failures: Failure[], output: string, files: ReportFile[], maxBytes: number): { text: string; truncated: boolean } {
  const lines: string[] = ['## What failed', ''];
  if (failures.length === 0) lines.push('No failing test or error could be read from the output; its last lines follow.');
  for (const failure of failures.slice(0, 40)) {
    const where = failure.file ? ` in ${failure.file}${failure.line ? ` line ${failure.line}` : ''}` : failure.line ? ` (line ${failure.line})` : '';
    if (failure.kind === 'test') lines.push(`- Test ${failure.test} failed${where}: ${failure.message}`);
    else if (failure.kind === 'compile') lines.push(`- Error${where}: ${failure.message}`);
    else lines.push(`- ${failure.message}`);
  }
  if (failures.length > 40) lines.push(`- … and ${failures.length - 40} more`);
  const tail = output.replace(ANSI, '').split(/\r?\n/).filter((l) => l.trim() !== '').slice(-TAIL_LINES);
  lines.push('', '## The last lines of the output', '', '```', ...tail, '```', '');
  let text = lines.join('\n');
  let truncated = false;
  if (files.length > 0) text += '## The files involved, as they are now\n\n';
  for (const file of files) {
    const block = `=== FILE: ${file.path} ===\n${file.content.endsWith('\n') ? file.content : `${file.content}\n`}=== END FILE ===\n\n`;
    if (Buffer.byteLength(text) + Buffer.byteLength(block) > maxBytes) {
      text += `(${file.path} and later files left out: the report is limited to ${maxBytes} bytes)\n`;
      truncated = true;
      break;
    }
    text += block;
  }
  return { text, truncated };
}

/** FAILURE_REPORT as a step kind. */
export const failureReportKind: BuiltInStepKind<'FAILURE_REPORT'> = {
  type: 'FAILURE_REPORT',
  description: 'Reads a build or test output and writes, for a model, the failing tests and errors and the workspace files involved (as === FILE: blocks).',
  parameters: {
    type: 'object',
    properties: {
      output: { type: 'string', description: 'The output to read (a template, such as ${{ steps.test.output }}). Give this or outputFile.' },
      outputFile: { type: 'string', minLength: 1, description: 'A workspace file holding the output, such as test_output.txt (a template).' },
      maxFiles: { type: 'integer', minimum: 0, maximum: 100, description: `Files whose contents go into the report, at most (default ${DEFAULT_MAX_FILES}).` },
      maxBytes: { type: 'integer', minimum: 1000, maximum: 10_000_000, description: `Bytes of the report at most (default ${DEFAULT_MAX_BYTES}).` },
    },
  },
  templateFields: ['output', 'outputFile'],
  commandFields: [],
  execute: failureReport,
  source: null,
};
