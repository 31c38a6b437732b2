/** Where a file's block is in the answer: a line of a text answer, or an entry of a JSON answer's `files`. */
export interface BlockPlace {
  /** 1-based line of a text answer where the block starts (its FILE header or opening fence). */
  line?: number;
  /** 1-based position in a JSON answer's `files` list. */
  entry?: number;
}

/** A file found in a model's answer: a path as the model wrote it, and the whole content. */
export interface ExtractedFile extends BlockPlace {
  path: string;
  content: string;
}

/** A block of the answer that names a file but was not taken as one, and why. */
export interface SkippedBlock extends BlockPlace {
  /** The path the block names, as written ('' when it names none). */
  path: string;
  /** Why it was not written, in words a user can act on. */
  reason: string;
}

/** What `extractFiles` found: the files to write, and the blocks that name a path but were set aside. */
export interface Extraction {
  files: ExtractedFile[];
  skipped: SkippedBlock[];
}

/** Reasons for setting a block aside (also used by the LLM step for the ones it decides). */
export const SKIP_REASONS = {
  unterminatedFileBlock: 'the answer ended inside it, before its "=== END FILE ===" line, so the file would be incomplete',
  unclosedFence: 'the answer ended before its closing fence, so the file would be incomplete',
  replaced: 'a later block in the answer names the same file; the later one was written',
  mentionOnly:
    'the line before it mentions this path but does not introduce the block as that file (it reads like a snippet); name the path on a line of its own, end the line with a colon, or put the path in the fence',
  emptyPath: 'its FILE line names no path',
  notAFile: 'a "files" entry needs a non-empty string "path" and a string "content"',
  outputFile: "it is the step's own output file, which holds the model's whole raw answer",
} as const;

/**
 * The JSON Schema sent as Ollama's `format` for structured output: the answer is then constrained
 * to `{"files": [{"path": …, "content": …}]}`.
 */
export const FILES_SCHEMA = {
  type: 'object',
  properties: {
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, content: { type: 'string' } },
        required: ['path', 'content'],
      },
    },
  },
  required: ['files'],
} as const;

/** What the prompt says about FILES_SCHEMA (Ollama's docs advise describing the schema in the prompt too). */
export const FILES_SCHEMA_PROMPT =
  'Answer with JSON only, in this shape: {"files": [{"path": "relative/path/to/File.ext", "content": "the file\'s full content"}]}. Paths are relative to the project root.';

/**
 * The files of an answer written as FILES_SCHEMA JSON (a fence around it is allowed), or undefined
 * when the answer is not such JSON, for the caller to read it in the text forms instead. Entries
 * without a usable path or content are set aside; for a path given twice the later entry wins.
 */
export function extractJsonFiles(text: string): Extraction | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(joinContent(stripWrappingFence(text.split(/\r?\n/))));
  } catch {
    return undefined;
  }
  const list = (parsed as { files?: unknown } | null)?.files;
  if (!Array.isArray(list)) return undefined;
  const found: ExtractedFile[] = [];
  const skipped: SkippedBlock[] = [];
  list.forEach((item: unknown, index) => {
    const { path, content } = (item ?? {}) as { path?: unknown; content?: unknown };
    const cleaned = typeof path === 'string' ? cleanPath(path) : '';
    if (cleaned === '' || typeof content !== 'string') skipped.push({ path: cleaned, entry: index + 1, reason: SKIP_REASONS.notAFile });
    else found.push({ path: cleaned, content, entry: index + 1 });
  });
  return latestOfEach(found, skipped);
}

const FILE_HEADER = /^\s*={3,}\s*FILE\s*:\s*(.*?)\s*={3,}\s*$/i;
const FILE_END = /^\s*={3,}\s*END(?:\s+OF)?\s*FILE\s*={3,}\s*$/i;
const FENCE = /^\s*(`{3,}|~{3,})\s*(.*?)\s*$/;
/** Extension-less file names that a project commonly holds. */
const KNOWN_BARE_NAMES = new Set(['Dockerfile', 'Containerfile', 'Makefile', 'Jenkinsfile', 'Procfile', 'Gemfile', 'mvnw', 'gradlew', 'LICENSE', 'README', 'NOTICE']);
const PATH_SHAPE = /^[\w@+\-./]+$/;
/** How many blank lines may separate a path line (or a line of prose) from what follows it. */
const MAX_BLANK_LINES = 1;
/** `title="pom.xml"`, `filename=pom.xml`, `file='a.txt'`, `path=x` in a fence's info string. */
const INFO_ATTRIBUTE = /\b(?:title|file(?:name)?|path)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))/i;
/**
 * A first line inside a fence that names the file, in the comment syntax of its language:
 * `// File: src/App.java`, `# file: app.py`, `<!-- File: pom.xml -->`, `/* x.css *\/`, `-- a.sql`, or just `// src/App.java`.
 */
const PATH_COMMENT = /^\s*(?:\/\/+|#+|--|;+|%+|\/\*+|<!--|\(\*|\{-)\s*(?:(?:file(?:name)?|path)\s*:\s*)?(.+?)\s*(?:\*+\/|-->|\*\)|-\})?\s*$/i;

/**
 * Finds the files a model wrote in its answer. The prompt asks for `=== FILE: path ===` …
 * `=== END FILE ===` blocks, but code models write files in many shapes, all read here:
 *
 * - a FILE block (a fence wrapped around its content is removed; the next FILE line also ends it);
 * - a fence whose info string names the path: ```` ```java:src/App.java ````, ```` ```xml title="pom.xml" ````,
 *   ```` ```xml pom.xml ````, ```` ```src/App.java ````;
 * - a fence whose first line is a comment naming the path (`// File: src/App.java`, `# app.py`,
 *   `<!-- File: pom.xml -->`); that line is not part of the content;
 * - a fence after a line that names the path: `pom.xml`, `**src/App.java**`, `### src/x/Y.java`,
 *   `` ### `pom.xml` (Maven build) ``, `File: path`, or a sentence ending in a colon that holds exactly
 *   one backticked or bold path; the path line may also be a heading followed by one line of prose.
 *
 * Nothing incomplete is written: a FILE block that the answer ends inside, or a fence it never
 * closes, is set aside. Every block that names a path and is not taken is listed in `skipped` with
 * its reason (also a path merely mentioned in passing before a fence, which is taken for a snippet).
 * When a path appears twice, the later content wins. Paths are returned as written (minus a leading
 * `./`): confining them is the workspace's job, so a hostile path is refused loudly rather than
 * dropped silently.
 */
export function extractFiles(text: string): Extraction {
  const lines = text.split(/\r?\n/);
  const found: ExtractedFile[] = [];
  const skipped: SkippedBlock[] = [];
  scan(lines, 0, lines.length, false, found, skipped);
  return latestOfEach(found, skipped);
}

/** Keeps the later file for a path and reports the earlier ones; everything in answer order. */
function latestOfEach(found: ExtractedFile[], skipped: SkippedBlock[]): Extraction {
  const latest = new Map<string, ExtractedFile>();
  const replaced: SkippedBlock[] = [];
  for (const file of found) {
    const earlier = latest.get(file.path);
    if (earlier) replaced.push({ path: earlier.path, ...placeOf(earlier), reason: SKIP_REASONS.replaced });
    latest.set(file.path, file);
  }
  return {
    files: found.filter((file) => latest.get(file.path) === file),
    skipped: [...skipped, ...replaced].sort(inAnswerOrder),
  };
}

/** Sort comparator: blocks in the order they appear in the answer. */
export function inAnswerOrder(a: BlockPlace, b: BlockPlace): number {
  return (a.line ?? a.entry ?? 0) - (b.line ?? b.entry ?? 0);
}

function placeOf(block: BlockPlace): BlockPlace {
  return block.line !== undefined ? { line: block.line } : { entry: block.entry };
}

/**
 * Reads lines [start, end). `closed` says whether the region is closed by a fence at `end` (a
 * wrapper fence the model put around its FILE blocks) or runs to the end of the answer: a FILE
 * block that reaches a closed region's end is complete; one that reaches the answer's end is not.
 */
function scan(lines: string[], start: number, end: number, closed: boolean, files: ExtractedFile[], skipped: SkippedBlock[]): void {
  let index = start;
  while (index < end) {
    const line = lines[index]!;
    const header = FILE_HEADER.exec(line);
    if (header) {
      const block = readFileBlock(lines, index + 1, end);
      const path = cleanPath(header[1]!);
      if (path === '') skipped.push({ path, line: index + 1, reason: SKIP_REASONS.emptyPath });
      else if (!block.terminated && !closed) skipped.push({ path, line: index + 1, reason: SKIP_REASONS.unterminatedFileBlock });
      else files.push({ path, content: block.content, line: index + 1 });
      index = block.next;
      continue;
    }

    const fence = FENCE.exec(line);
    if (fence) {
      const block = readFence(lines, index, fence[1]!, end);
      const named = pathOfFence(lines, index, fence[2]!, block.body);
      if (named.path !== undefined) {
        if (!block.closed) skipped.push({ path: named.path, line: index + 1, reason: SKIP_REASONS.unclosedFence });
        else files.push({ path: named.path, content: joinContent(block.body.slice(named.bodyStart)), line: index + 1 });
        index = block.next;
      } else if (block.body.some((bodyLine) => FILE_HEADER.test(bodyLine))) {
        // The model wrapped its FILE blocks in a fence: read inside it.
        scan(lines, index + 1, block.closed ? block.next - 1 : block.next, block.closed || closed, files, skipped);
        index = block.next;
      } else {
        if (named.mentioned !== undefined) skipped.push({ path: named.mentioned, line: index + 1, reason: SKIP_REASONS.mentionOnly });
        index = block.next;
      }
      continue;
    }
    index += 1;
  }
}

/**
 * A FILE block ends at its END line, or at the next FILE header. `terminated` is false when it ran
 * into `end` instead (the end of the answer, or of a fence wrapped around the blocks).
 */
function readFileBlock(lines: string[], start: number, end: number): { content: string; next: number; terminated: boolean } {
  let stop = start;
  while (stop < end && !FILE_END.test(lines[stop]!) && !FILE_HEADER.test(lines[stop]!)) stop += 1;
  const terminated = stop < end;
  const next = terminated && FILE_END.test(lines[stop]!) ? stop + 1 : stop;
  return { content: joinContent(stripWrappingFence(lines.slice(start, stop))), next, terminated };
}

/**
 * A fenced block starting at `start`. CommonMark would end it at the first bare fence of the same
 * kind, but models nest fences in Markdown files (```markdown … ```bash … ``` … ```), so a fence
 * with an info string inside the block opens a nested level that a bare fence closes. `closed` is
 * false when the block runs into `end` without its closing fence.
 */
function readFence(lines: string[], start: number, opener: string, end: number): { body: string[]; next: number; closed: boolean } {
  const fenceChar = opener[0]!;
  const openLengths = [opener.length];
  let stop = start + 1;
  for (; stop < end; stop += 1) {
    const fence = FENCE.exec(lines[stop]!);
    if (!fence || fence[1]![0] !== fenceChar) continue;
    if (fence[2] !== '') openLengths.push(fence[1]!.length);
    else if (fence[1]!.length >= openLengths.at(-1)!) openLengths.pop();
    if (openLengths.length === 0) break;
  }
  const closed = stop < end;
  return { body: lines.slice(start + 1, stop), next: closed ? stop + 1 : stop, closed };
}

/**
 * The path a fence names, from the strongest sign to the weakest: its info string, its first line,
 * the line(s) before it. `bodyStart` skips a first line that only named the path. `mentioned` is a
 * path the line before it only mentions (reported, never written).
 */
function pathOfFence(lines: string[], fenceIndex: number, info: string, body: string[]): { path?: string; bodyStart: number; mentioned?: string } {
  const fromInfo = pathFromInfo(info);
  if (fromInfo !== undefined) return { path: fromInfo, bodyStart: 0 };

  // In Markdown a first line `# README.md` is a heading, part of the file.
  const markdown = /^(?:markdown|md)$/i.test(info.split(/[\s:]/)[0] ?? '');
  const firstLine = body.findIndex((line) => line.trim() !== '');
  const fromComment = firstLine >= 0 && !markdown ? pathFromComment(body[firstLine]!) : undefined;
  if (fromComment !== undefined) return { path: fromComment, bodyStart: firstLine + 1 };

  const before = previousLine(lines, fenceIndex);
  if (before === undefined) return { bodyStart: 0 };
  const fromLine = pathFromLine(lines[before]!);
  if (fromLine !== undefined) return { path: fromLine, bodyStart: 0 };

  // A heading (or a bold or bare path line) naming the file, then one line of prose, then the fence.
  const prose = lines[before]!;
  const heading = FENCE.test(prose) || isHeadingLike(prose) ? undefined : previousLine(lines, before);
  if (heading !== undefined && isHeadingLike(lines[heading]!)) {
    const fromHeading = pathFromLine(lines[heading]!);
    if (fromHeading !== undefined) return { path: fromHeading, bodyStart: 0 };
  }
  return { bodyStart: 0, mentioned: mentionedPath(prose) };
}

/** Index of the nearest non-blank line above `index` (at most MAX_BLANK_LINES blank lines between), if any. */
function previousLine(lines: string[], index: number): number | undefined {
  let candidate = index - 1;
  for (let blanks = 0; candidate >= 0 && lines[candidate]!.trim() === ''; blanks += 1) {
    if (blanks >= MAX_BLANK_LINES) return undefined;
    candidate -= 1;
  }
  return candidate >= 0 ? candidate : undefined;
}

/** `java:src/App.java`, `xml title="pom.xml"`, `xml pom.xml`, `src/App.java`. */
function pathFromInfo(info: string): string | undefined {
  if (info === '') return undefined;
  const attribute = INFO_ATTRIBUTE.exec(info);
  if (attribute) {
    const path = cleanPath(attribute[1] ?? attribute[2] ?? attribute[3] ?? '');
    return looksLikePath(path) ? path : undefined;
  }
  const [first = '', ...rest] = info.split(/\s+/);
  const colon = first.indexOf(':');
  if (colon > 0) {
    const path = cleanPath(first.slice(colon + 1));
    if (looksLikePath(path)) return path;
  }
  // A bare first word is a language (`java`, `xml`) unless it is clearly a path.
  if (first.includes('/') && looksLikePath(cleanPath(first))) return cleanPath(first);
  if (colon < 0 && looksLikePath(first) && /\.[A-Za-z]/.test(first)) return cleanPath(first);
  const named = rest.map(cleanPath).filter(looksLikePath);
  return named.length === 1 ? named[0] : undefined;
}

function pathFromComment(line: string): string | undefined {
  const match = PATH_COMMENT.exec(line);
  if (!match) return undefined;
  const path = cleanPath(match[1]!.replace(/\*/g, ''));
  return looksLikePath(path) && (path.includes('/') || path.includes('.') || KNOWN_BARE_NAMES.has(path)) ? path : undefined;
}

/** The path a line announces, or undefined when the line is prose or code. */
function pathFromLine(line: string): string | undefined {
  if (FENCE.test(line)) return undefined;
  const stripped = stripDecorations(line);
  const whole = cleanPath(stripped);
  if (looksLikePath(whole)) return whole;
  // A path followed by a note: `pom.xml` (Maven build), src/App.java — the entry point.
  const noted = /^(`[^`\s]+`|[^\s`]+)\s*(?:\(.*\)|[-–—:]\s.*)$/.exec(stripped);
  if (noted) {
    const path = cleanPath(noted[1]!);
    if (looksLikePath(path)) return path;
  }
  // A sentence names the file only when it announces the block ("Update `pom.xml` as follows:");
  // otherwise a snippet after "set the port in `application.properties`" would overwrite that file.
  if (!line.trimEnd().endsWith(':')) return undefined;
  const quoted = quotedPaths(line);
  return quoted.length === 1 ? quoted[0] : undefined;
}

/** The one path a line of prose mentions in backticks or bold, if exactly one. */
function mentionedPath(line: string): string | undefined {
  const quoted = quotedPaths(line);
  return quoted.length === 1 ? quoted[0] : undefined;
}

function quotedPaths(line: string): string[] {
  return [...line.matchAll(/`([^`\s]+)`|\*\*([^*\s]+)\*\*/g)].map((match) => cleanPath(match[1] ?? match[2] ?? '')).filter(looksLikePath);
}

/** A Markdown heading, a line in bold, or a list item: lines that label what follows. */
function isHeadingLike(line: string): boolean {
  const text = line.trim();
  return /^#{1,6}\s/.test(text) || /^\*\*[^*]+\*\*:?$/.test(text) || /^(?:[-+*]|\d+[.)])\s+\S/.test(text);
}

function stripDecorations(line: string): string {
  let text = line.trim();
  for (let previous = ''; previous !== text; ) {
    previous = text;
    text = text
      .replace(/^#{1,6}\s+/, '')
      .replace(/^(?:[-+]|\d+[.)])\s+/, '')
      .replace(/\*/g, '')
      .replace(/^(?:file(?:name)?|path)\s*:\s*/i, '')
      .replace(/^\/\/\s*|^<!--\s*|\s*-->$/g, '')
      .replace(/:$/, '')
      .trim();
  }
  return text;
}

function cleanPath(raw: string): string {
  return raw
    .trim()
    .replace(/^[`'"]+|[`'"]+$/g, '')
    .replace(/^(?:\.\/)+/, '')
    .trim();
}

function looksLikePath(candidate: string): boolean {
  if (!PATH_SHAPE.test(candidate) || candidate.endsWith('/')) return false;
  const name = candidate.slice(candidate.lastIndexOf('/') + 1);
  return KNOWN_BARE_NAMES.has(name) || /^\.?[\w@+\-.]*\.[A-Za-z][\w-]*$/.test(name);
}

/** Removes a fence the model wrapped around a FILE block's whole content. */
function stripWrappingFence(body: string[]): string[] {
  let first = 0;
  let last = body.length - 1;
  while (first <= last && body[first]!.trim() === '') first += 1;
  while (last >= first && body[last]!.trim() === '') last -= 1;
  if (last <= first) return body;
  const opener = FENCE.exec(body[first]!);
  const closer = FENCE.exec(body[last]!);
  if (!opener || !closer || closer[2] !== '' || closer[1]![0] !== opener[1]![0]) return body;
  return body.slice(first + 1, last);
}

function joinContent(body: string[]): string {
  let end = body.length;
  while (end > 0 && body[end - 1]!.trim() === '') end -= 1;
  let start = 0;
  while (start < end && body[start]!.trim() === '') start += 1;
  return end > start ? `${body.slice(start, end).join('\n')}\n` : '';
}
