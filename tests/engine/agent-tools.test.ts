/**
 * The agent's tools and its reading of calls written as text, directly against a real workspace
 * folder: edit_file's exact-snippet rule, read_file's ranges, list_files and search, argument
 * checking, result truncation, and the XML-like and JSON forms (and what is malformed in them).
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { truncateForModel } from '../../src/engine/agent/loop.js';
import { parseTextCalls } from '../../src/engine/agent/text-calls.js';
import { AGENT_TOOLS, callProblem, findTool, type ToolContext } from '../../src/engine/agent/tools.js';
import { createTestStepContext, makeTempFolder } from './step-context.js';

const TYPES = new Map(AGENT_TOOLS.map((tool) => [tool.name, Object.fromEntries(Object.entries(tool.parameters.properties).map(([k, v]) => [k, v.type]))]));

let folder: { path: string; remove(): Promise<void> };
let tools: ToolContext;
let artifacts: Array<{ path: string }>;

beforeEach(async () => {
  folder = await makeTempFolder('agent-tools-');
  const test = createTestStepContext({ root: folder.path, step: { type: 'AGENT' } });
  tools = { step: test.ctx, recorded: new Set() };
  artifacts = test.artifacts;
  mkdirSync(join(folder.path, 'src'));
  writeFileSync(join(folder.path, 'src', 'a.js'), 'const a = 1;\nconst b = 1;\nconst c = 2;\n');
});

afterEach(() => folder.remove());

const run = (name: string, args: Record<string, unknown>) => findTool(name)!.run(args, tools);

describe('edit_file', () => {
  it('replaces a snippet that occurs exactly once, and records the file once', async () => {
    expect(await run('edit_file', { path: 'src/a.js', old_text: 'const c = 2;', new_text: 'const c = 3;' })).toMatchObject({ ok: true, content: 'Edited src/a.js: replaced 1 snippet at line 3.' });
    await run('edit_file', { path: 'src/a.js', old_text: 'const c = 3;', new_text: 'const c = 4;' });
    expect(readFileSync(join(folder.path, 'src', 'a.js'), 'utf8')).toBe('const a = 1;\nconst b = 1;\nconst c = 4;\n');
    expect(artifacts.map((a) => a.path)).toEqual(['src/a.js']);
  });

  it('fails clearly, changing nothing, when the snippet is absent or ambiguous', async () => {
    const absent = await run('edit_file', { path: 'src/a.js', old_text: 'const d', new_text: 'x' });
    expect(absent).toMatchObject({ ok: false, data: { matches: 0 } });
    expect(absent.content).toBe('old_text was not found in src/a.js: nothing was changed. Read the file again and copy the exact text, whitespace included.');
    const ambiguous = await run('edit_file', { path: 'src/a.js', old_text: ' = 1;', new_text: ' = 9;' });
    expect(ambiguous.content).toBe('old_text occurs 2 times in src/a.js: nothing was changed. Include more of the surrounding lines so it matches exactly once.');
    expect(readFileSync(join(folder.path, 'src', 'a.js'), 'utf8')).toBe('const a = 1;\nconst b = 1;\nconst c = 2;\n');
    expect(artifacts).toEqual([]);
  });
});

describe('read_file, list_files, search', () => {
  it('reads a whole file or a range, and says when the range is past the end', async () => {
    expect((await run('read_file', { path: 'src/a.js' })).content).toBe('src/a.js (3 lines):\nconst a = 1;\nconst b = 1;\nconst c = 2;');
    expect((await run('read_file', { path: 'src/a.js', start_line: 2, end_line: 9 })).content).toBe('src/a.js, lines 2-3 of 3:\nconst b = 1;\nconst c = 2;');
    expect(await run('read_file', { path: 'src/a.js', start_line: 7 })).toMatchObject({ ok: false, content: 'src/a.js has 3 lines; start_line 7 is past its end.' });
  });

  it('lists without entering .git, node_modules or symbolic links', async () => {
    mkdirSync(join(folder.path, '.git'));
    writeFileSync(join(folder.path, '.git', 'HEAD'), 'ref');
    mkdirSync(join(folder.path, 'node_modules', 'x'), { recursive: true });
    symlinkSync('/etc', join(folder.path, 'etc-link'));
    expect((await run('list_files', {})).content).toBe('etc-link (symbolic link, not followed)\nsrc/\nsrc/a.js');
    expect((await run('list_files', { path: 'src' })).content).toBe('src/a.js');
  });

  it('searches text and regular expressions, path:line: text', async () => {
    expect((await run('search', { pattern: '= 1;' })).content).toBe('src/a.js:1: const a = 1;\nsrc/a.js:2: const b = 1;');
    expect((await run('search', { pattern: 'const [bc]', regex: true })).content).toBe('src/a.js:2: const b = 1;\nsrc/a.js:3: const c = 2;');
    expect((await run('search', { pattern: '(', regex: true })).content).toMatch(/^pattern is not a valid regular expression/);
    expect((await run('search', { pattern: 'zzz' })).content).toBe('No match for "zzz" in 1 files.');
  });
});

describe('argument checks and truncation', () => {
  it('names what is wrong with a call’s arguments, and the expected shape', () => {
    expect(callProblem('read_file', { path: 'a', start_line: 2 })).toBeNull();
    expect(callProblem('read_file', {})).toBe("Invalid arguments for read_file: the arguments must have required property 'path'. Expected {path: string, start_line?: integer, end_line?: integer}.");
    expect(callProblem('read_file', { path: 3 })).toContain('argument path must be string');
    expect(callProblem('run_command', { command: 'ls', shell: 'bash' })).toContain('unknown argument "shell"');
    expect(callProblem('delete_everything', {})).toBe('There is no tool named "delete_everything". The tools are: list_files, read_file, write_file, edit_file, search, run_command, finish.');
  });

  it('cuts a long result, keeping its start and end, with a note', () => {
    const text = 'a'.repeat(600) + 'b'.repeat(600);
    const { text: cut, truncated } = truncateForModel(text, 100);
    expect(truncated).toBe(true);
    expect(cut.startsWith('a'.repeat(60))).toBe(true);
    expect(cut.endsWith('b'.repeat(40))).toBe(true);
    expect(cut).toContain('[… 1100 characters cut here: the result had 1200 characters and at most 100 are sent.');
    expect(truncateForModel('short', 100)).toEqual({ text: 'short', truncated: false });
  });
});

describe('calls written as text', () => {
  it('reads qwen3-coder’s XML-like form, raw values typed by the tool’s schema', () => {
    const content = 'Reading now.\n<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/a.js\n</parameter>\n<parameter=start_line>\n2\n</parameter>\n</function>\n</tool_call>';
    expect(parseTextCalls(content, TYPES)).toEqual({ calls: [{ name: 'read_file', arguments: { path: 'src/a.js', start_line: 2 } }], malformed: [], form: 'xml' });
    const multiline = '<function=write_file>\n<parameter=path>\nx.py\n</parameter>\n<parameter=content>\ndef f():\n    return 1\n\n</parameter>\n</function>';
    expect(parseTextCalls(multiline, TYPES).calls[0]!.arguments).toEqual({ path: 'x.py', content: 'def f():\n    return 1\n' });
  });

  it('reads JSON calls, bare, fenced, wrapped in "function", with arguments as a string', () => {
    expect(parseTextCalls('{"name": "list_files", "arguments": {}}', TYPES).calls).toEqual([{ name: 'list_files', arguments: {} }]);
    expect(parseTextCalls('```json\n{"function": {"name": "search", "parameters": {"pattern": "}{"}}}\n```', TYPES).calls).toEqual([{ name: 'search', arguments: { pattern: '}{' } }]);
    expect(parseTextCalls('{"name": "read_file", "arguments": "{\\"path\\": \\"a\\"}"}', TYPES).calls).toEqual([{ name: 'read_file', arguments: { path: 'a' } }]);
    // JSON that is not a call is left alone.
    expect(parseTextCalls('The package.json has {"name": "demo", "version": "1.0.0"}.', TYPES)).toEqual({ calls: [], malformed: [], form: null });
  });

  it('reports what cannot be read instead of throwing', () => {
    expect(parseTextCalls('<function=read_file>\n<parameter=path>\na', TYPES).malformed).toEqual(['a <function=…> block without its </function>']);
    expect(parseTextCalls('<function=read_file>\n<parameter=path>\na\n</function>', TYPES).malformed).toEqual(['the call of read_file: a <parameter=…> block without its </parameter>']);
    expect(parseTextCalls('<function=read_file><parameter=start_line>two</parameter></function>', TYPES).malformed[0]).toContain('parameter start_line: expected a number');
    expect(parseTextCalls('<tool_call>{}</tool_call>', TYPES).malformed).toEqual(['a <tool_call> without a <function=NAME> block inside']);
    expect(parseTextCalls('{"name": "read_file", "arguments": {"path": ', TYPES).malformed[0]).toMatch(/^unreadable JSON starting/);
  });
});
