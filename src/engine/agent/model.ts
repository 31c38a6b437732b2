import type { ChatResponse, Message, Ollama } from 'ollama';
import { AnswerStream } from '../answer-stream.js';
import { createOllama, describeOllamaError } from '../providers/ollama.js';
import { StepError, StepTimeoutError, type AgentMessage, type LlmThink, type StepContext } from '../types.js';
import type { toolDefinitions } from './tools.js';

/** Installed models asked for their capabilities at most, when naming those that have tools. */
const MAX_MODELS_ASKED = 40;

/**
 * The model's capabilities from `/api/show` (`["completion", "tools", "thinking", …]`), or null
 * when the server does not report them (Ollama before 0.6): then nothing can be checked beforehand.
 */
export async function readCapabilities(ollama: Ollama, model: string, baseUrl: string): Promise<string[] | null> {
  try {
    const shown = (await ollama.show({ model })) as { capabilities?: unknown };
    return Array.isArray(shown.capabilities) ? shown.capabilities.filter((c): c is string => typeof c === 'string') : null;
  } catch (error) {
    throw describeOllamaError(error, { baseUrl, model });
  }
}

/** The installed models (`/api/tags`) whose `/api/show` capabilities include `capability`, by name. */
export async function modelsWith(ollama: Ollama, capability: string): Promise<string[]> {
  const { models } = await ollama.list();
  const names = models.map((m) => m.name).slice(0, MAX_MODELS_ASKED);
  const found: string[] = [];
  // A few at a time: each /api/show reads the model's files on the Ollama side.
  for (let i = 0; i < names.length; i += 4) {
    const batch = names.slice(i, i + 4);
    const shown = await Promise.all(batch.map((name) => ollama.show({ model: name }).then((s) => (s as { capabilities?: unknown }).capabilities, () => undefined)));
    batch.forEach((name, j) => {
      if (Array.isArray(shown[j]) && (shown[j] as unknown[]).includes(capability)) found.push(name);
    });
  }
  return found;
}

/**
 * Checks, before the first model call, that the model can drive an agent: it must be installed and
 * report the `tools` capability; `think` asked for explicitly needs `thinking`. Returns the `think`
 * to send: the one asked for, else on when the model reports `thinking`, else none.
 */
export async function checkAgentModel(ctx: StepContext, model: string, think: LlmThink | undefined): Promise<LlmThink | undefined> {
  const baseUrl = ctx.settings.ollamaBaseUrl;
  const ollama = createOllama(baseUrl, ctx.signal);
  const capabilities = await readCapabilities(ollama, model, baseUrl);
  if (capabilities === null) return think;
  if (!capabilities.includes('tools')) {
    let others: string[];
    try {
      others = await modelsWith(ollama, 'tools');
    } catch (error) {
      throw describeOllamaError(error, { baseUrl, model });
    }
    const choose = `Choose one for this run with options.models [{step: "${ctx.step.name}", model: …}], or for the server with OLLAMA_${ctx.step.name.toUpperCase()}_MODEL.`;
    const advice =
      others.length > 0
        ? `Installed models that support tools: ${others.join(', ')}. ${choose}`
        : `No installed model supports tools: pull one (for example: ollama pull qwen3-coder), then ${choose.charAt(0).toLowerCase()}${choose.slice(1)}`;
    throw new StepError(`Model '${model}' does not support tool calling (its capabilities: ${capabilities.join(', ') || 'none'}), which an agent needs. ${advice}`, {
      retryable: false,
      data: { model, capabilities, modelsWithTools: others },
    });
  }
  if (think !== undefined && think !== false && !capabilities.includes('thinking')) {
    throw new StepError(`Model '${model}' does not support thinking, and this run asks for it (options.agent.think). Leave think out, set it to OFF, or choose a model that thinks.`, {
      retryable: false,
      data: { model, capabilities },
    });
  }
  return think ?? (capabilities.includes('thinking') ? true : undefined);
}

/** What one model call came back with. */
export interface TurnAnswer {
  content: string;
  thinking: string;
  /** Structured calls, as Ollama parsed them. */
  toolCalls: Array<{ name: string; arguments: Record<string, unknown> }>;
  final: ChatResponse;
  elapsedMs: number;
}

/** Our messages in Ollama's form; calls written as text stay text, so the model sees what it wrote. */
export function toOllamaMessages(messages: readonly AgentMessage[]): Message[] {
  return messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', content: m.content, tool_name: m.toolName };
    if (m.role === 'assistant' && m.toolCalls?.length && !m.toolCallsAsText) {
      return { role: 'assistant', content: m.content, tool_calls: m.toolCalls.map((c) => ({ function: { name: c.name, arguments: c.arguments } })) };
    }
    return { role: m.role, content: m.content };
  });
}

/** One model call of an agent: the conversation so far, the tools, and the settings of the call. */
export interface TurnRequest {
  model: string;
  messages: readonly AgentMessage[];
  tools: ReturnType<typeof toolDefinitions>;
  think: LlmThink | undefined;
  numCtx: number;
  /** Longest this call may take, in ms. */
  timeoutMs: number;
  turn: number;
}

/**
 * One model call, streamed through an AnswerStream: reasoning (the `thinking` field or an inline
 * `<think>` block) as LLM_THINKING, the text as LLM_TOKEN, LLM_HEARTBEAT while the model is silent.
 * `content` is the text without that reasoning. The call is bound to the step's signal (stop, total
 * timeout) and to its own timeout.
 */
export async function streamTurn(ctx: StepContext, request: TurnRequest): Promise<TurnAnswer> {
  const { settings } = ctx;
  const { model, turn } = request;
  const startedAt = Date.now();
  const callTimer = new AbortController();
  const timer = setTimeout(() => callTimer.abort(new StepTimeoutError(request.timeoutMs)), request.timeoutMs);
  const signal = AbortSignal.any([ctx.signal, callTimer.signal]);
  // The same `{ text }` streams as LLM steps': the turn is the one after the last AGENT_TURN.
  const streamed = new AnswerStream(ctx, model, startedAt);

  let stream: { abort(): void } | undefined;
  const toolCalls: TurnAnswer['toolCalls'] = [];
  let final: ChatResponse | undefined;
  try {
    signal.throwIfAborted();
    const ollama = createOllama(settings.ollamaBaseUrl, signal);
    const parts = await ollama.chat({
      model,
      messages: toOllamaMessages(request.messages),
      tools: request.tools,
      stream: true,
      ...(request.think !== undefined ? { think: request.think } : {}),
      options: { num_ctx: request.numCtx },
    });
    stream = parts;
    ctx.emit('LLM_GENERATING', `Turn ${turn}: ${model} is answering`, { model, turn });
    for await (const part of parts) {
      const message = part.message;
      streamed.push({ thinking: message?.thinking, text: message?.content });
      for (const call of message?.tool_calls ?? []) {
        streamed.alive();
        toolCalls.push({ name: String(call.function?.name ?? ''), arguments: (call.function?.arguments ?? {}) as Record<string, unknown> });
      }
      if (part.done) final = part;
    }
    streamed.end();
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (callTimer.signal.aborted) {
      throw new StepError(
        `The model call of turn ${turn} took longer than ${Math.round(request.timeoutMs / 1000)}s. Raise the run's options.timeoutSeconds (or OLLAMA_TIMEOUT_SECONDS), or use a smaller model.`,
        { data: { model, turn } },
      );
    }
    throw describeOllamaError(error, { baseUrl: settings.ollamaBaseUrl, model, stepName: ctx.step.name });
  } finally {
    clearTimeout(timer);
    streamed.close();
    // Leaving the loop early does not close the HTTP request; only abort() does.
    stream?.abort();
  }
  if (final === undefined) {
    throw describeOllamaError(new Error('Did not receive done or success response in stream.'), { baseUrl: settings.ollamaBaseUrl, model });
  }
  return { content: streamed.text, thinking: streamed.thinking, toolCalls, final, elapsedMs: Date.now() - startedAt };
}
