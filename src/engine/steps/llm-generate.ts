import type { BuiltInStepKind } from './registry.js';
import type { GenerateResponse } from 'ollama';
import { Coalescer } from '../coalesce.js';
import { extractFiles } from '../extract-files.js';
import { createOllama, describeOllamaError } from '../providers/ollama.js';
import { StepError, type LlmGenerateStep, type StepContext, type StepExecutor } from '../types.js';

/** LLM_GENERATE: streams an answer from Ollama, then writes it (and the files it holds) to the workspace. */
export const llmGenerate: StepExecutor<LlmGenerateStep> = async (ctx) => {
  const { step } = ctx;
  if (!step.model) throw new StepError(`Step "${step.name}" has no model to generate with`, { retryable: false });
  if (!step.prompt) throw new StepError(`Step "${step.name}" has no prompt`, { retryable: false });

  const model = step.model;
  const { prompt, system } = step;
  const { text, final, elapsedMs } = await streamAnswer(ctx, model, prompt, system);

  const generation = describeGeneration(model, text, final, elapsedMs);
  ctx.emit('LLM_DONE', generation.message, generation.data);

  const files = await writeAnswer(ctx, text);
  const wrote = files.length > 0 ? `, wrote ${files.length} file${files.length === 1 ? '' : 's'}` : '';
  const truncated = final.done_reason === 'length' ? ' (stopped at the length limit: the answer may be cut short)' : '';
  return {
    output: text,
    data: { ...generation.data, files },
    summary: `Generated ${text.length} characters with ${model}${wrote}${truncated}`,
  };
};

interface StreamedAnswer {
  text: string;
  final: GenerateResponse;
  elapsedMs: number;
}

async function streamAnswer(ctx: StepContext, model: string, prompt: string, system: string | undefined): Promise<StreamedAnswer> {
  const { settings, signal } = ctx;
  const startedAt = Date.now();
  ctx.emit('LLM_LOADING_MODEL', `Loading model: ${model}`, { model });

  // Ollama sends nothing until the model is loaded and the first token is ready, which can take
  // minutes: the heartbeat shows the step is alive meanwhile.
  let heartbeat: NodeJS.Timeout | undefined = setInterval(() => {
    const elapsedSeconds = Math.round((Date.now() - startedAt) / 1000);
    ctx.emit('LLM_HEARTBEAT', `Still waiting on ${model}… ${elapsedSeconds}s elapsed`, { model, elapsedSeconds });
  }, settings.heartbeatMs);
  const stopHeartbeat = (): void => {
    clearInterval(heartbeat);
    heartbeat = undefined;
  };
  const tokens = new Coalescer((delta) => ctx.emit('LLM_TOKEN', delta, { text: delta }), settings);

  let stream: { abort(): void } | undefined;
  let text = '';
  let final: GenerateResponse | undefined;
  try {
    signal.throwIfAborted();
    const ollama = createOllama(settings.ollamaBaseUrl, signal);
    const parts = await ollama.generate({ model, prompt, system, stream: true });
    stream = parts;
    ctx.emit('LLM_GENERATING', `Generating with ${model}`, { model });
    for await (const part of parts) {
      if (heartbeat !== undefined && (part.response || part.thinking)) stopHeartbeat();
      if (part.response) {
        text += part.response;
        tokens.push(part.response);
      }
      if (part.done) final = part;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw describeOllamaError(error, { baseUrl: settings.ollamaBaseUrl, model });
  } finally {
    stopHeartbeat();
    tokens.close();
    // Leaving the loop early does not close the HTTP request; only abort() does.
    stream?.abort();
  }
  if (final === undefined) {
    throw describeOllamaError(new Error('Did not receive done or success response in stream.'), { baseUrl: settings.ollamaBaseUrl, model });
  }
  return { text, final, elapsedMs: Date.now() - startedAt };
}

function describeGeneration(model: string, text: string, final: GenerateResponse, elapsedMs: number): { message: string; data: Record<string, unknown> } {
  const tokens = final.eval_count ?? 0;
  const tokensPerSecond = final.eval_duration > 0 ? Math.round((tokens / (final.eval_duration / 1e9)) * 10) / 10 : 0;
  const data = {
    model,
    characters: text.length,
    tokens,
    tokensPerSecond,
    loadSeconds: roundTo3(nanosToSeconds(final.load_duration)),
    totalSeconds: roundTo3(final.total_duration > 0 ? nanosToSeconds(final.total_duration) : elapsedMs / 1000),
    doneReason: final.done_reason,
  };
  return { message: `Generated ${text.length} characters (${tokens} tokens, ${tokensPerSecond} tokens/s) with ${model}`, data };
}

/** Writes the raw answer to `outputFile` and, with `extractFiles`, each file the answer holds. Returns the files' paths. */
async function writeAnswer(ctx: StepContext<LlmGenerateStep>, text: string): Promise<string[]> {
  const { step, workspace } = ctx;
  if (step.outputFile) {
    await workspace.writeFile(step.outputFile, text);
    if (step.saveArtifact) await ctx.recordArtifact(step.outputFile, 'GENERATED_FILE');
  }
  if (!step.extractFiles) return [];

  const files = extractFiles(text);
  if (files.length === 0) {
    const kept = step.outputFile ? `the raw answer was kept in ${step.outputFile}` : 'the raw answer is the step\'s output';
    throw new StepError(
      `The answer from ${step.model} held no files in the expected format (=== FILE: path === … === END FILE === blocks, or a path line followed by a fenced code block); ${kept}`,
      { data: { characters: text.length } },
    );
  }
  // Refuse the whole answer before writing anything if any path leads outside the workspace.
  for (const file of files) await workspace.resolve(file.path);
  for (const file of files) await workspace.writeFile(file.path, file.content);
  for (const file of files) await ctx.recordArtifact(file.path, 'GENERATED_FILE');
  return files.map((file) => file.path);
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
    },
  },
  templateFields: ['prompt', 'system', 'outputFile'],
  commandFields: [],
  execute: llmGenerate,
  source: null,
};
