/** A file found in a model's answer: a path as the model wrote it, and the whole content. */
export interface ExtractedFile {
  path: string;
  content: string;
}

const FILE_HEADER = /^\s*={3,}\s*FILE\s*:\s*(.*?)\s*={3,}\s*$/i;
const FILE_END = /^\s*={3,}\s*END(?:\s+OF)?\s*FILE\s*={3,}\s*$/i;
const FENCE = /^\s*(`{3,}|~{3,})\s*(.*?)\s*$/;
/** Extension-less file names that a project commonly holds. */
const KNOWN_BARE_NAMES = new Set(['Dockerfile', 'Containerfile', 'Makefile', 'Jenkinsfile', 'Procfile', 'Gemfile', 'mvnw', 'gradlew', 'LICENSE', 'README', 'NOTICE']);
const PATH_SHAPE = /^[\w@+\-./]+$/;
/** How far above a fence its path line may be (blank lines in between are common). */
const MAX_BLANK_LINES_BEFORE_FENCE = 1;

/**
 * Finds the files a model wrote in its answer, in either of the two shapes models produce:
 *
 *   === FILE: pom.xml ===            **src/main/java/App.java**
 *   <content>                        ```java
 *   === END FILE ===                 <content>
 *                                    ```
 *
 * A path line may also be `pom.xml`, `### src/x/Y.java`, `File: path`, `` `path` ``, or a sentence
 * ending in a colon that holds exactly one backticked or bold path. A fence wrapped around a FILE
 * block's content is removed. When a path appears twice, the later content wins. Paths are returned
 * as written (minus a leading `./`): confining them is the workspace's job, so a hostile path is
 * refused loudly rather than dropped silently.
 */
export function extractFiles(text: string): ExtractedFile[] {
  const lines = text.split(/\r?\n/);
  const files = new Map<string, string>();
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    const header = FILE_HEADER.exec(line);
    if (header) {
      const block = readFileBlock(lines, index + 1);
      const path = cleanPath(header[1]!);
      if (path !== '') files.set(path, block.content);
      index = block.next;
      continue;
    }

    const fence = FENCE.exec(line);
    if (fence) {
      const path = pathBeforeFence(lines, index);
      const block = readFence(lines, index, fence[1]!);
      if (path !== undefined) {
        files.set(path, block.content);
        index = block.next;
      } else if (block.body.some((bodyLine) => FILE_HEADER.test(bodyLine))) {
        // The model wrapped its FILE blocks in a fence: read on inside it.
        index += 1;
      } else {
        index = block.next;
      }
      continue;
    }
    index += 1;
  }
  return [...files].map(([path, content]) => ({ path, content }));
}

/** A FILE block ends at its END line, or at the next FILE header or the end of the answer if it has none. */
function readFileBlock(lines: string[], start: number): { content: string; next: number } {
  let end = start;
  while (end < lines.length && !FILE_END.test(lines[end]!) && !FILE_HEADER.test(lines[end]!)) end += 1;
  const next = end < lines.length && FILE_END.test(lines[end]!) ? end + 1 : end;
  return { content: joinContent(stripWrappingFence(lines.slice(start, end))), next };
}

/**
 * A fenced block starting at `start`. CommonMark would end it at the first bare fence of the same
 * kind, but models nest fences in Markdown files (```markdown … ```bash … ``` … ```), so a fence
 * with an info string inside the block opens a nested level that a bare fence closes.
 */
function readFence(lines: string[], start: number, opener: string): { body: string[]; content: string; next: number } {
  const fenceChar = opener[0]!;
  const openLengths = [opener.length];
  let end = start + 1;
  for (; end < lines.length; end += 1) {
    const fence = FENCE.exec(lines[end]!);
    if (!fence || fence[1]![0] !== fenceChar) continue;
    if (fence[2] !== '') openLengths.push(fence[1]!.length);
    else if (fence[1]!.length >= openLengths.at(-1)!) openLengths.pop();
    if (openLengths.length === 0) break;
  }
  const body = lines.slice(start + 1, end);
  return { body, content: joinContent(body), next: Math.min(end + 1, lines.length) };
}

function pathBeforeFence(lines: string[], fenceIndex: number): string | undefined {
  let index = fenceIndex - 1;
  for (let blanks = 0; index >= 0 && lines[index]!.trim() === '' && blanks <= MAX_BLANK_LINES_BEFORE_FENCE; blanks += 1) index -= 1;
  if (index < 0 || lines[index]!.trim() === '') return undefined;
  return pathFromLine(lines[index]!);
}

/** The path a line announces, or undefined when the line is prose or code. */
function pathFromLine(line: string): string | undefined {
  const whole = cleanPath(stripDecorations(line));
  if (looksLikePath(whole)) return whole;
  // A sentence names the file only when it announces the block ("Update `pom.xml` as follows:");
  // otherwise a snippet after "set the port in `application.properties`" would overwrite that file.
  if (!line.trimEnd().endsWith(':')) return undefined;
  const quoted = [...line.matchAll(/`([^`\s]+)`|\*\*([^*\s]+)\*\*/g)]
    .map((match) => cleanPath(match[1] ?? match[2] ?? ''))
    .filter(looksLikePath);
  return quoted.length === 1 ? quoted[0] : undefined;
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
