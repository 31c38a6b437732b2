import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { eventData } from '../events.js';
import { runCommand } from '../steps/shell-command.js';
import { StepError, StepTimeoutError, coerceError, type StepContext } from '../types.js';

/**
 * The agent's tools. Every path goes through the step's workspace (the same confinement and atomic
 * writes as file steps) and every command through `runCommand` (the same process machinery as
 * shell steps: own process group, whole-tree kill, bounded output, timeout).
 */

/** JSON Schema of a tool's arguments, as sent to Ollama in `tools[].function.parameters`. */
export interface ToolParameters {
  type: 'object';
  properties: Record<string, { type: 'string' | 'integer' | 'boolean'; description: string; minimum?: number }>;
  required: string[];
  additionalProperties: false;
}

/** What a tool call came to. `content` is what the model is told (before truncation). */
export interface ToolOutcome {
  ok: boolean;
  content: string;
  /** Merged into AGENT_TOOL_RESULT's data (exitCode, path, …). */
  data?: Record<string, unknown>;
  /** Set by `finish`: the agent is done. */
  finished?: { summary: string };
}

export interface AgentTool {
  name: string;
  description: string;
  parameters: ToolParameters;
  /** Reads only: safe to call again after a crash cut it off. */
  readOnly: boolean;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolOutcome>;
}

/** What a tool works with: the agent's step context, and the files this agent has recorded as artifacts. */
export interface ToolContext {
  step: StepContext;
  /** Workspace-relative paths already recorded as artifacts by this step (a file written twice is recorded once). */
  recorded: Set<string>;
}

/** Folders list_files and search do not enter (their size would drown everything else). */
const SKIPPED_FOLDERS = new Set(['.git', 'node_modules']);
/** Entries list_files returns at most. */
const MAX_LIST_ENTRIES = 500;
/** Matches search returns at most, and the longest line it quotes. */
const MAX_SEARCH_RESULTS = 100;
const MAX_QUOTED_LINE_CHARS = 300;
/** Files larger than this are not searched. */
const MAX_SEARCHED_FILE_BYTES = 2 * 1024 * 1024;

const string = (description: string) => ({ type: 'string' as const, description });
const integer = (description: string, minimum = 1) => ({ type: 'integer' as const, description, minimum });
const object = (properties: ToolParameters['properties'], required: string[]): ToolParameters => ({ type: 'object', properties, required, additionalProperties: false });

/** `.`, `./` or nothing: the project folder itself (which Workspace.resolve refuses as a file path). */
function isRoot(relative: unknown): boolean {
  return relative === undefined || (typeof relative === 'string' && ['', '.', './'].includes(relative.trim()));
}

async function folderOf(ctx: ToolContext, relative: unknown): Promise<string> {
  return isRoot(relative) ? ctx.step.workspace.root : ctx.step.workspace.resolve(String(relative));
}

/**
 * The files and folders under `start`, depth first in name order, without following symbolic links
 * (they are listed, never entered) and without the SKIPPED_FOLDERS. Paths are relative to the workspace.
 */
async function* walk(root: string, start: string, maxDepth: number): AsyncGenerator<{ path: string; kind: 'file' | 'folder' | 'link' }> {
  const visit = async function* (folder: string, depth: number): AsyncGenerator<{ path: string; kind: 'file' | 'folder' | 'link' }> {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      throw new StepError(`Could not list ${JSON.stringify(path.relative(root, folder) || '.')}: ${coerceError(error).message}`);
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const absolute = path.join(folder, entry.name);
      const relative = path.relative(root, absolute);
      if (entry.isSymbolicLink()) yield { path: relative, kind: 'link' };
      else if (entry.isDirectory()) {
        if (SKIPPED_FOLDERS.has(entry.name)) continue;
        yield { path: relative, kind: 'folder' };
        if (depth < maxDepth) yield* visit(absolute, depth + 1);
      } else if (entry.isFile()) yield { path: relative, kind: 'file' };
    }
  };
  yield* visit(start, 1);
}

const listFiles: AgentTool = {
  name: 'list_files',
  description: `Lists the files and folders under a folder of the project (folders end with "/"), skipping ${[...SKIPPED_FOLDERS].join(' and ')}, at most ${MAX_LIST_ENTRIES} entries.`,
  parameters: object(
    {
      path: string('Folder relative to the project folder; "." (the default) for the whole project.'),
      depth: integer('How many folder levels to descend (default 8).'),
    },
    [],
  ),
  readOnly: true,
  async run(args, ctx) {
    const root = ctx.step.workspace.root;
    const start = await folderOf(ctx, args.path);
    const lines: string[] = [];
    let more = false;
    for await (const entry of walk(root, start, Number(args.depth ?? 8))) {
      if (lines.length >= MAX_LIST_ENTRIES) {
        more = true;
        break;
      }
      lines.push(entry.kind === 'folder' ? `${entry.path}/` : entry.kind === 'link' ? `${entry.path} (symbolic link, not followed)` : entry.path);
    }
    const shown = isRoot(args.path) ? 'the project folder' : String(args.path);
    if (lines.length === 0) return { ok: true, content: `${shown} is empty.`, data: { entries: 0 } };
    const note = more ? `\n[… more entries not shown: list a sub-folder, or lower depth]` : '';
    return { ok: true, content: `${lines.join('\n')}${note}`, data: { entries: lines.length } };
  },
};

const readFile: AgentTool = {
  name: 'read_file',
  description: 'Reads a text file of the project, whole or a range of lines (numbered from 1).',
  parameters: object(
    {
      path: string('File path relative to the project folder.'),
      start_line: integer('First line to read (default 1).'),
      end_line: integer('Last line to read (default: the end of the file).'),
    },
    ['path'],
  ),
  readOnly: true,
  async run(args, ctx) {
    const relative = String(args.path);
    const text = await ctx.step.workspace.readFile(relative);
    if (text.includes('\u0000')) return { ok: false, content: `${relative} is a binary file; it cannot be shown as text.`, data: { path: relative } };
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const first = Number(args.start_line ?? 1);
    const last = Math.min(Number(args.end_line ?? lines.length), lines.length);
    if (first > Math.max(1, lines.length)) {
      return { ok: false, content: `${relative} has ${lines.length} lines; start_line ${first} is past its end.`, data: { path: relative } };
    }
    if (last < first) return { ok: false, content: `end_line (${last}) comes before start_line (${first}).`, data: { path: relative } };
    const whole = first === 1 && last === lines.length;
    const header = whole ? `${relative} (${lines.length} lines):` : `${relative}, lines ${first}-${last} of ${lines.length}:`;
    return { ok: true, content: `${header}\n${lines.slice(first - 1, last).join('\n')}`, data: { path: relative, lines: last - first + 1 } };
  },
};

async function recordOnce(ctx: ToolContext, relative: string): Promise<void> {
  const key = path.normalize(relative);
  if (ctx.recorded.has(key)) return;
  ctx.recorded.add(key);
  await ctx.step.recordArtifact(relative, 'GENERATED_FILE');
}

const writeFile: AgentTool = {
  name: 'write_file',
  description: 'Writes a whole file of the project (created with its folders if missing, replaced if present).',
  parameters: object({ path: string('File path relative to the project folder.'), content: string('The complete new content of the file.') }, ['path', 'content']),
  readOnly: false,
  async run(args, ctx) {
    const relative = String(args.path);
    const existed = await ctx.step.workspace.readFile(relative).then(
      () => true,
      () => false,
    );
    const bytes = await ctx.step.workspace.writeFile(relative, String(args.content));
    await recordOnce(ctx, relative);
    return { ok: true, content: `${existed ? 'Replaced' : 'Created'} ${relative} (${bytes} bytes).`, data: { path: relative, sizeBytes: bytes } };
  },
};

/** Where `needle` occurs in `text`, at most `limit` positions. */
function occurrences(text: string, needle: string, limit: number): number[] {
  const found: number[] = [];
  for (let at = text.indexOf(needle); at !== -1 && found.length < limit; at = text.indexOf(needle, at + 1)) found.push(at);
  return found;
}

const editFile: AgentTool = {
  name: 'edit_file',
  description: 'Replaces one exact snippet of a file with new text. old_text must occur exactly once in the file, whitespace included: copy it from read_file.',
  parameters: object(
    {
      path: string('File path relative to the project folder.'),
      old_text: string('The exact text to replace; it must occur once in the file.'),
      new_text: string('The text to put in its place.'),
    },
    ['path', 'old_text', 'new_text'],
  ),
  readOnly: false,
  async run(args, ctx) {
    const relative = String(args.path);
    const oldText = String(args.old_text);
    if (oldText === '') return { ok: false, content: 'old_text is empty: give the exact snippet to replace (use write_file to write a whole file).', data: { path: relative } };
    const text = await ctx.step.workspace.readFile(relative);
    const found = occurrences(text, oldText, 10);
    if (found.length === 0) {
      return { ok: false, content: `old_text was not found in ${relative}: nothing was changed. Read the file again and copy the exact text, whitespace included.`, data: { path: relative, matches: 0 } };
    }
    if (found.length > 1) {
      const count = found.length >= 10 ? '10 or more' : String(found.length);
      return {
        ok: false,
        content: `old_text occurs ${count} times in ${relative}: nothing was changed. Include more of the surrounding lines so it matches exactly once.`,
        data: { path: relative, matches: found.length },
      };
    }
    const at = found[0]!;
    const updated = `${text.slice(0, at)}${String(args.new_text)}${text.slice(at + oldText.length)}`;
    await ctx.step.workspace.writeFile(relative, updated);
    await recordOnce(ctx, relative);
    const line = text.slice(0, at).split('\n').length;
    return { ok: true, content: `Edited ${relative}: replaced 1 snippet at line ${line}.`, data: { path: relative, line } };
  },
};

const search: AgentTool = {
  name: 'search',
  description: `Searches the text files of the project for a string (or a regular expression), listing matches as path:line: text, at most ${MAX_SEARCH_RESULTS}.`,
  parameters: object(
    {
      pattern: string('The text to find (case-sensitive), or a JavaScript regular expression when regex is true.'),
      path: string('Folder to search, relative to the project folder (default: the whole project).'),
      regex: { type: 'boolean', description: 'Treat pattern as a regular expression (default false).' },
    },
    ['pattern'],
  ),
  readOnly: true,
  async run(args, ctx) {
    const pattern = String(args.pattern);
    if (pattern === '') return { ok: false, content: 'pattern is empty: give the text to search for.' };
    let matches: (line: string) => boolean;
    if (args.regex === true) {
      let expression: RegExp;
      try {
        expression = new RegExp(pattern);
      } catch (error) {
        return { ok: false, content: `pattern is not a valid regular expression: ${coerceError(error).message}` };
      }
      matches = (line) => expression.test(line);
    } else {
      matches = (line) => line.includes(pattern);
    }
    const root = ctx.step.workspace.root;
    const results: string[] = [];
    let files = 0;
    let more = false;
    outer: for await (const entry of walk(root, await folderOf(ctx, args.path), 64)) {
      if (entry.kind !== 'file') continue;
      const { size } = await stat(path.join(root, entry.path));
      if (size > MAX_SEARCHED_FILE_BYTES) continue;
      const text = await ctx.step.workspace.readFile(entry.path).catch(() => '');
      if (text.includes('\u0000')) continue;
      files += 1;
      const lines = text.split('\n');
      for (let index = 0; index < lines.length; index++) {
        if (!matches(lines[index]!)) continue;
        if (results.length >= MAX_SEARCH_RESULTS) {
          more = true;
          break outer;
        }
        const quoted = lines[index]!.length > MAX_QUOTED_LINE_CHARS ? `${lines[index]!.slice(0, MAX_QUOTED_LINE_CHARS)}…` : lines[index]!;
        results.push(`${entry.path}:${index + 1}: ${quoted}`);
      }
    }
    if (results.length === 0) return { ok: true, content: `No match for ${JSON.stringify(pattern)} in ${files} files.`, data: { matches: 0 } };
    const note = more ? `\n[… more matches not shown: narrow the pattern or the folder]` : '';
    return { ok: true, content: `${results.join('\n')}${note}`, data: { matches: results.length } };
  },
};

/** The first and last `cap` characters of a stream of text, and how much was between them. */
class HeadAndTail {
  private head = '';
  private tail = '';
  private total = 0;

  constructor(private readonly cap: number) {}

  push(text: string): void {
    this.total += text.length;
    if (this.head.length < this.cap) {
      const room = this.cap - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (text !== '') this.tail = (this.tail + text).slice(-this.cap);
  }

  text(): string {
    const dropped = this.total - this.head.length - this.tail.length;
    return dropped > 0 ? `${this.head}\n[… ${dropped} characters of output not kept …]\n${this.tail}` : this.head + this.tail;
  }
}

const runCommandTool: AgentTool = {
  name: 'run_command',
  description:
    'Runs a shell command (sh -c) in the project folder and returns its exit code and output (stdout and stderr). Use it to build, run tests, or inspect with standard tools. It is killed with all its processes when it times out.',
  parameters: object(
    {
      command: string('The command line, such as "npm test" or "ls -la src".'),
      timeout_seconds: integer('Kill the command after this many seconds (default and maximum: the server’s command timeout).'),
    },
    ['command'],
  ),
  readOnly: false,
  async run(args, ctx) {
    const step = ctx.step;
    const command = String(args.command);
    if (command.trim() === '') return { ok: false, content: 'command is empty: give the command line to run.' };
    const settings = step.step.agent!;
    const seconds = Math.min(Number(args.timeout_seconds ?? settings.commandTimeoutSeconds), settings.commandTimeoutSeconds);
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new StepTimeoutError(seconds * 1000)), seconds * 1000);
    // Both streams as they were printed, for the model; they are also streamed as SHELL_OUTPUT events.
    const output = new HeadAndTail(settings.toolResultMaxChars);
    const commandContext: StepContext = {
      ...step,
      step: { ...step.step, saveArtifact: false, continueOnError: true },
      signal: AbortSignal.any([step.signal, timer.signal]),
      emit(type, message, data) {
        const shown = eventData({ type, data }, 'SHELL_OUTPUT');
        if (shown) output.push(shown.text);
        step.emit(type, message, data);
      },
    };
    try {
      const result = await runCommand(commandContext, command);
      const exitCode = result.data?.exitCode as number | null;
      const killedBy = result.data?.signal as string | undefined;
      const status = killedBy !== undefined ? `Killed by ${killedBy}` : `Exit code: ${exitCode}`;
      const text = output.text();
      return {
        ok: exitCode === 0,
        content: `${status}\n${text === '' ? '(no output)' : text}`,
        data: { command, exitCode, ...(killedBy ? { signal: killedBy } : {}), durationMs: result.data?.durationMs },
      };
    } catch (error) {
      if (step.signal.aborted) throw step.signal.reason;
      if (timer.signal.aborted) {
        return {
          ok: false,
          content: `The command timed out after ${seconds}s and was killed with all its processes. Output so far:\n${output.text() || '(no output)'}`,
          data: { command, timedOut: true, timeoutSeconds: seconds },
        };
      }
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  },
};

const finish: AgentTool = {
  name: 'finish',
  description: 'Ends the work. Call it once the task is done (or cannot be done), with a short summary of what you did and how you checked it.',
  parameters: object({ summary: string('What was done, and how it was checked (or why it could not be done).') }, ['summary']),
  readOnly: true,
  async run(args) {
    const summary = String(args.summary).trim() || '(no summary given)';
    return { ok: true, content: 'Finished.', finished: { summary } };
  },
};

/** Every tool, in the order the model is told about them. */
export const AGENT_TOOLS: readonly AgentTool[] = [listFiles, readFile, writeFile, editFile, search, runCommandTool, finish];

/** The `tools` of an Ollama chat request. */
export function toolDefinitions(tools: readonly AgentTool[] = AGENT_TOOLS): Array<{ type: 'function'; function: { name: string; description: string; parameters: ToolParameters } }> {
  return tools.map((tool) => ({ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }));
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = new Map<string, ValidateFunction>(AGENT_TOOLS.map((tool) => [tool.name, ajv.compile(tool.parameters)]));

/**
 * Checks a call's arguments against its tool's schema. Returns the reason it cannot be used (an
 * unknown tool, an argument missing, of the wrong type or unknown), or null when it is fine.
 */
export function callProblem(name: string, args: unknown): string | null {
  const tool = AGENT_TOOLS.find((t) => t.name === name);
  if (!tool) return `There is no tool named ${JSON.stringify(name)}. The tools are: ${AGENT_TOOLS.map((t) => t.name).join(', ')}.`;
  const validate = validators.get(name)!;
  if (validate(args)) return null;
  const problems = (validate.errors ?? []).map((error) => {
    const where = error.instancePath ? `argument ${error.instancePath.slice(1)}` : 'the arguments';
    if (error.keyword === 'additionalProperties') return `unknown argument ${JSON.stringify((error.params as { additionalProperty: string }).additionalProperty)}`;
    return `${where} ${error.message}`;
  });
  const expected = Object.entries(tool.parameters.properties)
    .map(([key, spec]) => `${key}${tool.parameters.required.includes(key) ? '' : '?'}: ${spec.type}`)
    .join(', ');
  return `Invalid arguments for ${name}: ${problems.join('; ')}. Expected {${expected}}.`;
}

/** The tool of that name, or undefined (the model may name any). */
export function findTool(name: string): AgentTool | undefined {
  return AGENT_TOOLS.find((t) => t.name === name);
}
