import type { GenerateRequest, GenerateResponse } from 'ollama';
import { AnswerStream } from '../answer-stream.js';
import type { EventData } from '../events.js';
import { FILES_SCHEMA, FILES_SCHEMA_PROMPT, SKIP_REASONS, extractFiles, extractJsonFiles, inAnswerOrder, type ExtractedFile, type SkippedBlock } from '../extract-files.js';
import { createOllama, describeOllamaError } from '../providers/ollama.js';
import { StepError, type LlmGenerateStep, type ResolvedStep, type StepContext, type StepExecutor } from '../types.js';
import type { BuiltInStepKind } from './registry.js';

/**
 * LLM_GENERATE: streams an answer from Ollama, sets its reasoning apart (LLM_THINKING events, never
 * part of the output), checks that the answer is whole and not empty, then writes it (and the
 * files it holds) to the workspace.
 */
export const llmGenerate: StepExecutor<LlmGenerateStep> = async (ctx) => {
  const { step } = ctx;
  const request = generateRequest(ctx);
  const answer = await streamAnswer(ctx, request);

  const generation = describeGeneration(request.model, answer);
  ctx.emit('LLM_DONE', generation.message, generation.data);
  assertWhole(step, request.model, answer);

  const written = await writeAnswer(ctx, answer.text);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const wrote = written.files.length > 0 ? `, wrote ${count(written.files.length, 'file')}` : '';
  const skipped = written.skipped.length > 0 ? `, skipped ${count(written.skipped.length, 'block')} (see FILE_BLOCK_SKIPPED)` : '';
  return {
    output: answer.text,
    data: {
      ...generation.data,
      ...(step.extractFiles ? { files: written.files, skippedBlocks: written.skipped, filesFrom: written.from } : { files: [] }),
    },
    summary: `Generated ${answer.text.length} characters with ${request.model}${wrote}${skipped}`,
  };
};

/** The request to Ollama's /api/generate for this step. Throws a non-retryable StepError for a step that cannot run. */
function generateRequest(ctx: StepContext<LlmGenerateStep>): GenerateRequest & { model: string } {
  const { step } = ctx;
  if (!step.model) throw new StepError(`Step "${step.name}" has no model to generate with`, { retryable: false });
  if (!step.prompt) throw new StepError(`Step "${step.name}" has no prompt`, { retryable: false });
  if (step.think !== undefined && typeof step.think !== 'boolean' && !['low', 'medium', 'high'].includes(step.think)) {
    throw new StepError(`Step "${step.name}" has think: ${JSON.stringify(step.think)}; use true, false, "low", "medium" or "high"`, { retryable: false });
  }
  if (step.options !== undefined && (typeof step.options !== 'object' || step.options === null || Array.isArray(step.options))) {
    throw new StepError(`Step "${step.name}" has options that are not a map of Ollama options (such as { num_ctx: 16384 })`, { retryable: false });
  }
  const structured = step.structuredOutput === true && step.extractFiles === true;
  const { prompt } = step;
  return {
    model: step.model,
    prompt: structured ? `${prompt}\n\n${FILES_SCHEMA_PROMPT}` : prompt,
    system: step.system,
    ...(step.think !== undefined ? { think: step.think } : {}),
    ...(step.options !== undefined ? { options: step.options as GenerateRequest['options'] } : {}),
    ...(structured ? { format: FILES_SCHEMA } : {}),
  };
}

interface StreamedAnswer {
  /** The answer proper, reasoning set apart. */
  text: string;
  /** The model's reasoning (the `thinking` field, or an inline `<think>` block). */
  thinking: string;
  final: GenerateResponse;
  elapsedMs: number;
}

async function streamAnswer(ctx: StepContext<LlmGenerateStep>, request: GenerateRequest & { model: string }): Promise<StreamedAnswer> {
  const { settings, signal, step } = ctx;
  const { model } = request;
  const startedAt = Date.now();
  ctx.emit('LLM_LOADING_MODEL', `Loading model: ${model}`, { model });

  // Ollama sends nothing until the model is loaded and the first token is ready, which can take
  // minutes, and a model can pause mid-answer: the heartbeat shows the step is alive meanwhile.
  const answer = new AnswerStream(ctx, model, startedAt);

  let stream: { abort(): void } | undefined;
  let final: GenerateResponse | undefined;
  const context = { baseUrl: settings.ollamaBaseUrl, model, stepName: step.name };
  try {
    signal.throwIfAborted();
    const ollama = createOllama(settings.ollamaBaseUrl, signal);
    const parts = await ollama.generate({ ...request, stream: true });
    stream = parts;
    ctx.emit('LLM_GENERATING', `Generating with ${model}`, { model });
    for await (const part of parts) {
      answer.push({ thinking: part.thinking, text: part.response });
      if (part.done) final = part;
    }
    answer.end();
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw describeOllamaError(error, context);
  } finally {
    answer.close();
    // Leaving the loop early does not close the HTTP request; only abort() does.
    stream?.abort();
  }
  if (final === undefined) throw describeOllamaError(new Error('Did not receive done or success response in stream.'), context);
  return { text: answer.text, thinking: answer.thinking, final, elapsedMs: Date.now() - startedAt };
}

/**
 * Refuses an answer that cannot be used whole: one Ollama cut at the length limit, or one with
 * nothing left once the reasoning is set apart. Nothing has been written yet when this throws.
 */
function assertWhole(step: ResolvedStep<LlmGenerateStep>, model: string, answer: StreamedAnswer): void {
  if (answer.final.done_reason === 'length') {
    const now = (name: string) => (step.options?.[name] !== undefined ? `, now ${JSON.stringify(step.options[name])}` : '');
    throw new StepError(
      `The answer from ${model} was cut off at the length limit (Ollama's done_reason "length", after ${answer.final.eval_count ?? 0} tokens), so it was not used and nothing was written. ` +
        `Raise num_predict in the options of step "${step.name}" (the longest answer, in tokens${now('num_predict')}) or num_ctx (the context window, prompt and answer together${now('num_ctx')}), or ask for a shorter answer.`,
      { retryable: false, data: { doneReason: 'length', tokens: answer.final.eval_count ?? 0, characters: answer.text.length } },
    );
  }
  if (answer.text.trim() === '') {
    const message =
      answer.thinking.trim() !== ''
        ? `The answer from ${model} was empty once its reasoning was set apart (${answer.thinking.length} characters of reasoning, in the LLM_THINKING events): the model reasoned but gave no answer. Another attempt may answer; if not, turn thinking off for step "${step.name}" (think: false) or choose another model.`
        : `The answer from ${model} was empty: there is nothing to write. Another attempt may answer; if not, check the step's prompt or choose another model.`;
    throw new StepError(message, { retryable: true, data: { characters: 0, thinkingCharacters: answer.thinking.length } });
  }
}

function describeGeneration(model: string, answer: StreamedAnswer): { message: string; data: EventData<'LLM_DONE'> } {
  const { text, thinking, final, elapsedMs } = answer;
  const tokens = final.eval_count ?? 0;
  const tokensPerSecond = final.eval_duration > 0 ? Math.round((tokens / (final.eval_duration / 1e9)) * 10) / 10 : 0;
  const data = {
    model,
    characters: text.length,
    ...(thinking !== '' ? { thinkingCharacters: thinking.length } : {}),
    tokens,
    tokensPerSecond,
    loadSeconds: roundTo3(nanosToSeconds(final.load_duration)),
    totalSeconds: roundTo3(final.total_duration > 0 ? nanosToSeconds(final.total_duration) : elapsedMs / 1000),
    doneReason: final.done_reason,
  };
  const reasoning = thinking !== '' ? ` after ${thinking.length} characters of reasoning` : '';
  return { message: `Generated ${text.length} characters${reasoning} (${tokens} tokens, ${tokensPerSecond} tokens/s) with ${model}`, data };
}

interface WrittenAnswer {
  files: string[];
  skipped: SkippedBlock[];
  /** Where the files were read from: the structured (JSON) answer or its text forms. */
  from: 'json' | 'text';
}

/**
 * Writes the raw answer to `outputFile` and, with `extractFiles`, each file the answer holds.
 * Every block that names a file and is not written gets a FILE_BLOCK_SKIPPED event saying why.
 */
async function writeAnswer(ctx: StepContext<LlmGenerateStep>, text: string): Promise<WrittenAnswer> {
  const { step, workspace } = ctx;
  if (step.outputFile) {
    await workspace.writeFile(step.outputFile, text);
    if (step.saveArtifact) await ctx.recordArtifact(step.outputFile, 'GENERATED_FILE');
  }
  if (!step.extractFiles) return { files: [], skipped: [], from: 'text' };

  const fromJson = step.structuredOutput ? extractJsonFiles(text) : undefined;
  const extraction = fromJson ?? extractFiles(text);
  const skipped = [...extraction.skipped];
  const files: ExtractedFile[] = [];
  // Refuse the whole answer before writing anything if any path leads outside the workspace.
  const outputPath = step.outputFile ? await workspace.resolve(step.outputFile) : undefined;
  for (const file of extraction.files) {
    if ((await workspace.resolve(file.path)) === outputPath) skipped.push({ path: file.path, line: file.line, entry: file.entry, reason: SKIP_REASONS.outputFile });
    else files.push(file);
  }
  skipped.sort(inAnswerOrder);
  for (const block of skipped) ctx.emit('FILE_BLOCK_SKIPPED', describeSkipped(block), dropUndefined({ ...block }));

  if (files.length === 0) {
    const kept = step.outputFile ? `the raw answer was kept in ${step.outputFile}` : "the raw answer is the step's output";
    const setAside = skipped.length > 0 ? `; ${skipped.length} block${skipped.length === 1 ? ' that names a file was' : 's that name files were'} set aside (see FILE_BLOCK_SKIPPED)` : '';
    throw new StepError(
      `The answer from ${step.model} held no files in a form agent-runner reads (=== FILE: path === … === END FILE === blocks, or fenced code blocks whose path is given before them, in the fence's info string or on their first line)${setAside}; ${kept}`,
      { data: { characters: text.length, skippedBlocks: skipped } },
    );
  }
  for (const file of files) await workspace.writeFile(file.path, file.content);
  for (const file of files) await ctx.recordArtifact(file.path, 'GENERATED_FILE');
  return { files: files.map((file) => file.path), skipped, from: fromJson ? 'json' : 'text' };
}

/** "Did not write pom.xml (the block at line 12 of the answer): the answer ended inside it …". */
function describeSkipped(block: SkippedBlock): string {
  const place = block.line !== undefined ? `the block at line ${block.line} of the answer` : `entry ${block.entry} of the JSON answer's files`;
  return `Did not write ${block.path === '' ? 'a file' : block.path} (${place}): ${block.reason}`;
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function nanosToSeconds(nanoseconds: number | undefined): number {
  return (nanoseconds ?? 0) / 1e9;
}

function roundTo3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** LLM_GENERATE as a step kind: its fields in a definition, and which of them are templates. */
export const llmGenerateKind: BuiltInStepKind<'LLM_GENERATE'> = {
  type: 'LLM_GENERATE',
  description: 'Generates text with an Ollama model, streaming it, and writes it to a file (or extracts project files from it).',
  parameters: {
    type: 'object',
    required: ['model', 'prompt'],
    properties: {
      model: { type: 'string', minLength: 1, maxLength: 200, description: 'The default model, such as gemma3:27b; a run’s options.models and OLLAMA_<STEP>_MODEL beat it.' },
      prompt: { type: 'string', minLength: 1, description: 'The prompt (a template: ${{ … }}, {goal}, {output:STEP}).' },
      system: { type: 'string', description: 'An optional system prompt (a template).' },
      outputFile: { type: 'string', minLength: 1, maxLength: 1024, description: 'Workspace-relative file the answer is written to (a template).' },
      extractFiles: { type: 'boolean', description: 'The answer holds project files (=== FILE: path === blocks, or a path and a fenced block): write each into the workspace.' },
      think: {
        enum: [true, false, 'low', 'medium', 'high'],
        description: 'Reasoning, sent as Ollama’s think: true/false, or a level for models that take one (gpt-oss). Not sent when absent (the model’s own default).',
      },
      options: {
        type: 'object',
        additionalProperties: { type: ['number', 'boolean', 'string', 'array'], items: { type: 'string' } },
        description: 'Ollama’s model options, sent as they are: num_ctx (context window in tokens), num_predict (longest answer in tokens), temperature, seed, stop …',
      },
      structuredOutput: {
        type: 'boolean',
        description: 'With extractFiles: ask for the files as JSON (Ollama’s format with the schema of {files: [{path, content}]}); an answer that is not such JSON is read in the text forms.',
      },
    },
  },
  templateFields: ['prompt', 'system', 'outputFile'],
  commandFields: [],
  execute: llmGenerate,
  source: null,
};
