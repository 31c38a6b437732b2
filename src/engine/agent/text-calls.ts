/**
 * Tool calls written as text in a message's `content`, for models whose calls Ollama's parser missed
 * (see OLLAMA-API.md, "Capabilities, tools and structured output"). Two forms are read:
 *
 * - qwen3-coder's XML-like form: `<tool_call>` (optional) then `<function=NAME>`, one
 *   `<parameter=ARG>` … `</parameter>` block per argument holding its raw value on the lines between,
 *   `</function>`, `</tool_call>`.
 * - a JSON object `{"name": NAME, "arguments": {…}}` (also `"parameters"`, or wrapped as
 *   `{"function": {…}}`), bare or in a code fence.
 *
 * Model output is untrusted: anything that looks like a call but cannot be read is reported as
 * malformed (with the reason, for the model), never thrown.
 */

/** A call read from text; its arguments are checked against the tool's schema by the caller. */
export interface TextCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface TextCalls {
  calls: TextCall[];
  /** Why each call-like piece of text could not be read. */
  malformed: string[];
  /** Which form the calls were written in, or null when the text held none. */
  form: 'xml' | 'json' | null;
}

/** The JSON Schema type of each argument of each tool, to turn the XML form's raw text values into values. */
export type ArgumentTypes = ReadonlyMap<string, Readonly<Record<string, string>>>;

const FUNCTION_BLOCK = /<function=([^>\n]*)>([\s\S]*?)<\/function>/g;
const PARAMETER_BLOCK = /<parameter=([^>\n]*)>([\s\S]*?)<\/parameter>/g;

/** Reads the calls a message wrote as text (none when it wrote none). */
export function parseTextCalls(content: string, types: ArgumentTypes): TextCalls {
  if (/<function=|<tool_call>/.test(content)) return parseXmlCalls(content, types);
  return parseJsonCalls(content);
}

/** A raw parameter value: the lines between the tags, without the line break right after the opening tag and before the closing one. */
function rawValue(text: string): string {
  return text.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
}

function typedValue(raw: string, type: string | undefined): { value: unknown } | { problem: string } {
  if (type === undefined || type === 'string') return { value: raw };
  const trimmed = raw.trim();
  if (type === 'integer' || type === 'number') {
    const value = Number(trimmed);
    return trimmed !== '' && Number.isFinite(value) ? { value } : { problem: `expected a number, got ${JSON.stringify(trimmed.slice(0, 40))}` };
  }
  if (type === 'boolean') {
    if (trimmed === 'true' || trimmed === 'false') return { value: trimmed === 'true' };
    return { problem: `expected true or false, got ${JSON.stringify(trimmed.slice(0, 40))}` };
  }
  try {
    return { value: JSON.parse(trimmed) };
  } catch {
    return { problem: `expected JSON, got ${JSON.stringify(trimmed.slice(0, 40))}` };
  }
}

function parseXmlCalls(content: string, types: ArgumentTypes): TextCalls {
  const calls: TextCall[] = [];
  const malformed: string[] = [];
  let blocks = 0;
  for (const [, rawName, body] of content.matchAll(FUNCTION_BLOCK)) {
    blocks += 1;
    const name = rawName!.trim();
    if (name === '') {
      malformed.push('a <function=…> tag without a tool name');
      continue;
    }
    const args: Record<string, unknown> = {};
    const problems: string[] = [];
    let parameters = 0;
    for (const [, rawArgument, value] of body!.matchAll(PARAMETER_BLOCK)) {
      parameters += 1;
      const argument = rawArgument!.trim();
      const typed = typedValue(rawValue(value!), types.get(name)?.[argument]);
      if ('problem' in typed) problems.push(`parameter ${argument}: ${typed.problem}`);
      else args[argument] = typed.value;
    }
    const opened = (body!.match(/<parameter=/g) ?? []).length;
    if (opened > parameters) problems.push('a <parameter=…> block without its </parameter>');
    if (problems.length > 0) malformed.push(`the call of ${name}: ${problems.join('; ')}`);
    else calls.push({ name, arguments: args });
  }
  const opened = (content.match(/<function=/g) ?? []).length;
  if (opened > blocks) malformed.push('a <function=…> block without its </function>');
  if (opened === 0) malformed.push('a <tool_call> without a <function=NAME> block inside');
  return { calls, malformed, form: 'xml' };
}

/** Each balanced `{…}` in the text that parses as JSON (strings and escapes respected). */
function jsonObjects(text: string): Array<{ value: unknown } | { unreadable: string }> {
  const found: Array<{ value: unknown } | { unreadable: string }> = [];
  for (let start = text.indexOf('{'); start !== -1; ) {
    let depth = 0;
    let inString = false;
    let end = -1;
    for (let i = start; i < text.length; i++) {
      const char = text[i];
      if (inString) {
        if (char === '\\') i += 1;
        else if (char === '"') inString = false;
      } else if (char === '"') inString = true;
      else if (char === '{') depth += 1;
      else if (char === '}' && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end === -1) {
      found.push({ unreadable: text.slice(start, start + 80) });
      break;
    }
    const candidate = text.slice(start, end + 1);
    try {
      found.push({ value: JSON.parse(candidate) });
      start = text.indexOf('{', end + 1);
    } catch {
      found.push({ unreadable: candidate.slice(0, 80) });
      start = text.indexOf('{', start + 1);
    }
  }
  return found;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJsonCalls(content: string): TextCalls {
  // Only text that names a tool and its arguments is taken for a call: a model may well show JSON for other reasons.
  if (!/"name"\s*:/.test(content) || !/"(arguments|parameters)"\s*:/.test(content)) return { calls: [], malformed: [], form: null };
  const calls: TextCall[] = [];
  const malformed: string[] = [];
  for (const object of jsonObjects(content)) {
    if ('unreadable' in object) {
      if (/"name"\s*:/.test(object.unreadable)) malformed.push(`unreadable JSON starting ${JSON.stringify(object.unreadable)}`);
      continue;
    }
    const candidate = isObject(object.value) && isObject(object.value.function) ? object.value.function : object.value;
    if (!isObject(candidate) || typeof candidate.name !== 'string') continue;
    let args = candidate.arguments ?? candidate.parameters;
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch {
        malformed.push(`the call of ${candidate.name}: its arguments are a string that is not JSON`);
        continue;
      }
    }
    if (args === undefined) args = {};
    if (!isObject(args)) {
      malformed.push(`the call of ${candidate.name}: its arguments are not a JSON object`);
      continue;
    }
    calls.push({ name: candidate.name, arguments: args });
  }
  if (calls.length === 0 && malformed.length === 0) malformed.push('JSON that names a tool and its arguments but could not be read as a call');
  return { calls, malformed, form: 'json' };
}
