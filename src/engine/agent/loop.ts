import {
  ServerShutdownError,
  StepError,
  StepPausedError,
  StepTimeoutError,
  coerceError,
  type AgentMessage,
  type AgentStep,
  type AgentSettings,
  type AgentToolCall,
  type StepContext,
  type StepResult,
} from '../types.js';
import { checkAgentModel, streamTurn, type TurnAnswer } from './model.js';
import { directiveMessage, systemPrompt, taskMessage } from './prompt.js';
import { parseTextCalls, type ArgumentTypes } from './text-calls.js';
import { AGENT_TOOLS, callProblem, findTool, toolDefinitions, type ToolContext, type ToolOutcome } from './tools.js';

/** Turns in a row whose every tool call was unusable (unreadable, unknown tool, bad arguments) before the agent is ended. */
export const MAX_UNUSABLE_TURNS = 3;
/** Share of the context window at which the conversation is taken to be full (the token count is an estimate). */
const CONTEXT_FULL_RATIO = 0.9;
/** Longest string argument copied into an AGENT_TOOL_CALL event (write_file's content can be large). */
const MAX_EVENT_ARGUMENT_CHARS = 8000;
/** Longest summary taken from a final answer given without a tool call. */
const MAX_SUMMARY_CHARS = 4000;

/** The kinds of limit that end an agent, as AGENT_LIMIT_REACHED's `data.limit` names them. */
export type AgentLimit = 'maxIterations' | 'tokenBudget' | 'timeout' | 'context' | 'unusableToolCalls';

const ARGUMENT_TYPES: ArgumentTypes = new Map(
  AGENT_TOOLS.map((tool) => [tool.name, Object.fromEntries(Object.entries(tool.parameters.properties).map(([name, spec]) => [name, spec.type]))]),
);

/** A result cut to `max` characters (its start and its end kept), with a note saying so. */
export function truncateForModel(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const head = Math.floor(max * 0.6);
  const tail = max - head;
  const note = `\n[… ${text.length - max} characters cut here: the result had ${text.length} characters and at most ${max} are sent. Ask for less: a line range, a narrower search, a quieter command. …]\n`;
  return { text: `${text.slice(0, head)}${note}${text.slice(text.length - tail)}`, truncated: true };
}

/** Large string arguments shortened for an event (the tool gets them whole). */
function argumentsForEvent(args: Record<string, unknown>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    shown[key] = typeof value === 'string' && value.length > MAX_EVENT_ARGUMENT_CHARS ? `${value.slice(0, MAX_EVENT_ARGUMENT_CHARS)}… [${value.length} characters]` : value;
  }
  return shown;
}

/** One line for a call: `read_file(path: "src/a.js")`. */
function describeCall(name: string, args: Record<string, unknown>): string {
  const parts = Object.entries(args).map(([key, value]) => {
    const text = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : JSON.stringify(value);
    return `${key}: ${text}`;
  });
  return `${name}(${parts.join(', ')})`;
}

/** Tokens the conversation takes in the context window: the larger of an estimate (4 characters a token) and what the last turn counted. */
function contextTokens(messages: readonly AgentMessage[], toolsChars: number, lastTurnTokens: number): number {
  let chars = toolsChars;
  for (const m of messages) chars += m.content.length + (m.toolCalls ? JSON.stringify(m.toolCalls).length : 0);
  return Math.max(Math.ceil(chars / 4), lastTurnTokens);
}

const nanosToMs = (nanoseconds: number | undefined): number => Math.round((nanoseconds ?? 0) / 1e6);

/**
 * The agent loop of an AGENT step: sends the task, a system prompt and the tool definitions to
 * Ollama's /api/chat, runs each tool call the model asks for, sends the results back, and repeats
 * until the model calls `finish`, answers without a tool call, or a limit is reached (model calls,
 * tokens, context window, total time: each ends the step with a message naming it).
 *
 * Every message is stored as soon as it exists (each tool result before the next model call), so a
 * pause (at a turn boundary), a crash or a shutdown continues the same conversation: calls a crash
 * cut off are answered as interrupted (reads are made again), never run twice. Directives are taken
 * into the conversation before each model call.
 */
export async function runAgent(ctx: StepContext<AgentStep>): Promise<StepResult> {
  const { step } = ctx;
  if (!step.model) throw new StepError(`Step "${step.name}" has no model for its agent`, { retryable: false });
  if (!step.agent) throw new StepError(`Step "${step.name}" has no agent settings`, { retryable: false });
  const model = step.model;
  const settings = step.agent;
  try {
    return await new Agent(ctx, model, settings).run();
  } catch (error) {
    if (ctx.signal.aborted && ctx.signal.reason instanceof StepTimeoutError) {
      ctx.emit('AGENT_LIMIT_REACHED', `Limit reached: the agent ran for its ${settings.timeoutSeconds}s (options.agent.timeoutSeconds) without finishing.`, {
        limit: 'timeout' satisfies AgentLimit,
        used: settings.timeoutSeconds,
        max: settings.timeoutSeconds,
      });
    }
    throw error;
  }
}

class Agent {
  private readonly definitions = toolDefinitions(AGENT_TOOLS);
  private readonly toolsChars = JSON.stringify(this.definitions).length;
  private readonly toolContext: ToolContext;
  private messages: AgentMessage[] = [];
  private turns = 0;
  private tokens = 0;
  private lastTurnTokens = 0;
  private unusableTurns = 0;

  constructor(
    private readonly ctx: StepContext<AgentStep>,
    private readonly model: string,
    private readonly settings: AgentSettings,
  ) {
    this.toolContext = { step: ctx, recorded: new Set() };
  }

  async run(): Promise<StepResult> {
    const { ctx, model, settings } = this;
    const think = await checkAgentModel(ctx, model, settings.think);

    this.messages = await ctx.memory.load();
    const continuing = this.messages.length > 0;
    for (const message of this.messages) {
      if (message.role !== 'assistant') continue;
      this.turns += 1;
      this.tokens += (message.usage?.promptTokens ?? 0) + (message.usage?.outputTokens ?? 0);
    }
    const limits = {
      maxIterations: settings.maxIterations,
      tokenBudget: settings.tokenBudget,
      timeoutSeconds: settings.timeoutSeconds,
      numCtx: settings.numCtx,
      toolResultMaxChars: settings.toolResultMaxChars,
      callTimeoutSeconds: settings.callTimeoutSeconds,
      commandTimeoutSeconds: settings.commandTimeoutSeconds,
    };
    ctx.emit(
      'AGENT_STARTED',
      `${continuing ? `Agent continues its conversation (${this.turns} turns so far)` : 'Agent started'} with ${model}: at most ${settings.maxIterations} model calls, ${settings.tokenBudget} tokens, ${settings.timeoutSeconds}s; context window ${settings.numCtx} tokens${think ? `; thinking ${think === true ? 'on' : think}` : ''}`,
      { model, think: think ?? null, continuing, turns: this.turns, tokens: this.tokens, limits, tools: AGENT_TOOLS.map((t) => t.name) },
    );

    if (!continuing) {
      await this.append({ role: 'system', content: systemPrompt(AGENT_TOOLS, settings) });
      // The runner rendered the task's templates ({goal}, {output:STEP}, ${{ … }}) already.
      const task = ctx.step.task ?? ctx.goal;
      await this.append({ role: 'user', content: taskMessage(task) });
    } else {
      const finished = await this.settleInterruptedCalls();
      if (finished) return finished;
    }

    ctx.emit('LLM_LOADING_MODEL', `Loading model: ${model}`, { model });
    for (;;) {
      await this.turnBoundary();
      const turn = ++this.turns;
      const answer = await streamTurn(ctx, {
        model,
        messages: this.messages,
        tools: this.definitions,
        think,
        numCtx: settings.numCtx,
        timeoutMs: settings.callTimeoutSeconds * 1000,
        turn,
      });
      const result = await this.handleAnswer(turn, answer);
      if (result) return result;
    }
  }

  private async append(message: AgentMessage): Promise<void> {
    await this.ctx.memory.append(message);
    this.messages.push(message);
  }

  /** Between two model calls: pause or shutdown, directives, limits. */
  private async turnBoundary(): Promise<void> {
    const { ctx, settings } = this;
    const decision = ctx.checkpoint();
    if (decision === 'pause') throw new StepPausedError(`before turn ${this.turns + 1}`);
    if (decision === 'shutdown') throw new ServerShutdownError();
    ctx.signal.throwIfAborted();

    for (const directive of await ctx.memory.takeDirectives()) {
      await this.append({ role: 'user', content: directiveMessage(directive.text), directiveId: directive.id });
      ctx.emit('AGENT_DIRECTIVE', `Directive delivered to the agent before turn ${this.turns + 1}: ${directive.text}`, {
        directiveId: String(directive.id),
        text: directive.text,
        state: 'delivered',
        turn: this.turns + 1,
      });
    }

    if (this.turns >= settings.maxIterations) {
      this.limit('maxIterations', this.turns, settings.maxIterations, `The agent made its ${settings.maxIterations} model calls (options.agent.maxIterations) without finishing. Raise the limit or give it a smaller task, then retry the run.`);
    }
    if (this.tokens >= settings.tokenBudget) {
      this.limit('tokenBudget', this.tokens, settings.tokenBudget, `The agent used ${this.tokens} tokens, its budget is ${settings.tokenBudget} (options.agent.tokenBudget), without finishing. Raise the budget or give it a smaller task, then retry the run.`);
    }
    const context = contextTokens(this.messages, this.toolsChars, this.lastTurnTokens);
    if (context >= settings.numCtx * CONTEXT_FULL_RATIO) {
      this.limit(
        'context',
        context,
        settings.numCtx,
        `The conversation has grown to about ${context} tokens, too close to the context window of ${settings.numCtx} (options.agent.numCtx): Ollama would silently drop its beginning. Raise numCtx if the model and memory allow, or give the agent a smaller task.`,
      );
    }
  }

  /** Records the limit and ends the step with `message`. */
  private limit(limit: AgentLimit, used: number, max: number, message: string): never {
    this.ctx.emit('AGENT_LIMIT_REACHED', `Limit reached: ${message}`, { limit, used, max });
    throw new StepError(message, { retryable: false, data: { limit, used, max } });
  }

  private finished(summary: string, finishedBy: 'finish' | 'answer'): StepResult {
    return {
      output: summary,
      summary: `Finished after ${this.turns} turn${this.turns === 1 ? '' : 's'}: ${summary}`,
      data: { model: this.model, turns: this.turns, tokens: this.tokens, finishedBy, summary },
    };
  }

  /** One model answer: stored, then its tool calls run in order. Returns the step's result once the agent is done. */
  private async handleAnswer(turn: number, answer: TurnAnswer): Promise<StepResult | null> {
    const { ctx, settings } = this;
    const final = answer.final;
    const usage = { promptTokens: final.prompt_eval_count ?? 0, outputTokens: final.eval_count ?? 0 };
    this.tokens += usage.promptTokens + usage.outputTokens;
    this.lastTurnTokens = usage.promptTokens + usage.outputTokens;

    let calls: AgentToolCall[];
    let textForm = false;
    let malformed: string[] = [];
    if (answer.toolCalls.length > 0) {
      calls = answer.toolCalls.map((call, index) => ({ id: `turn${turn}-call${index + 1}`, name: call.name, arguments: call.arguments }));
    } else {
      const parsed = parseTextCalls(answer.content, ARGUMENT_TYPES);
      textForm = parsed.form !== null;
      malformed = parsed.malformed;
      calls = parsed.calls.map((call, index) => ({ id: `turn${turn}-call${index + 1}`, ...call }));
    }
    await this.append({
      role: 'assistant',
      content: answer.content,
      ...(answer.thinking ? { thinking: answer.thinking } : {}),
      ...(calls.length > 0 ? { toolCalls: calls } : {}),
      ...(textForm ? { toolCallsAsText: true } : {}),
      usage,
    });
    const context = contextTokens(this.messages, this.toolsChars, this.lastTurnTokens);
    ctx.emit(
      'AGENT_TURN',
      `Turn ${turn}: ${usage.promptTokens} prompt + ${usage.outputTokens} output tokens in ${Math.round(answer.elapsedMs / 100) / 10}s; ${calls.length} tool call${calls.length === 1 ? '' : 's'}${textForm ? ` (read from the text: ${parsedFormLabel(answer.content)})` : ''}`,
      {
        turn,
        model: this.model,
        promptTokens: usage.promptTokens,
        outputTokens: usage.outputTokens,
        loadMs: nanosToMs(final.load_duration),
        promptMs: nanosToMs(final.prompt_eval_duration),
        outputMs: nanosToMs(final.eval_duration),
        totalMs: nanosToMs(final.total_duration) || answer.elapsedMs,
        doneReason: final.done_reason,
        toolCalls: calls.length,
        textForm,
        contextTokens: context,
        totals: { turns: this.turns, tokens: this.tokens },
        limits: { maxIterations: settings.maxIterations, tokenBudget: settings.tokenBudget, numCtx: settings.numCtx },
      },
    );
    if (final.done_reason === 'length') {
      this.limit(
        'context',
        context,
        settings.numCtx,
        `The answer of turn ${turn} was cut off at the length limit: the conversation no longer fits the context window of ${settings.numCtx} tokens (options.agent.numCtx). Raise numCtx if the model and memory allow, or give the agent a smaller task.`,
      );
    }

    if (calls.length === 0 && malformed.length === 0) {
      const text = answer.content.trim();
      return this.finished(text === '' ? '(the model ended without a summary)' : text.slice(0, MAX_SUMMARY_CHARS), 'answer');
    }

    let usable = 0;
    for (const call of calls) {
      const { outcome, invalid } = await this.runCall(turn, call, textForm);
      if (!invalid) usable += 1;
      if (outcome.finished) return this.finished(outcome.finished.summary, 'finish');
    }
    if (malformed.length > 0) await this.answerMalformed(turn, malformed);

    this.unusableTurns = usable === 0 ? this.unusableTurns + 1 : 0;
    if (this.unusableTurns >= MAX_UNUSABLE_TURNS) {
      this.limit(
        'unusableToolCalls',
        this.unusableTurns,
        MAX_UNUSABLE_TURNS,
        `The model ${this.model} wrote tool calls that could not be used ${this.unusableTurns} turns in a row (the last: ${malformed[0] ?? 'see the tool results'}). Choose a model whose tool calls Ollama reads (such as qwen3-coder or llama3.1), or retry the run.`,
      );
    }
    return null;
  }

  /** Runs one call (after checking its arguments), stores its result for the model, and records both as events. */
  private async runCall(turn: number, call: AgentToolCall, textForm: boolean): Promise<{ outcome: ToolOutcome; invalid: boolean }> {
    const { ctx } = this;
    ctx.emit('AGENT_TOOL_CALL', `Turn ${turn}: ${describeCall(call.name, call.arguments)}${textForm ? ' (read from the text)' : ''}`, {
      turn,
      callId: call.id,
      name: call.name,
      arguments: argumentsForEvent(call.arguments),
      textForm,
    });
    const started = Date.now();
    const problem = callProblem(call.name, call.arguments);
    let outcome: ToolOutcome;
    if (problem !== null) {
      outcome = { ok: false, content: problem, data: { invalid: true } };
    } else {
      try {
        outcome = await findTool(call.name)!.run(call.arguments, this.toolContext);
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const failure = coerceError(error);
        outcome = { ok: false, content: `Error: ${failure.message}`, data: failure instanceof StepError ? failure.data : undefined };
      }
    }
    await this.answerCall(turn, call, outcome, Date.now() - started);
    return { outcome, invalid: problem !== null };
  }

  private async answerCall(turn: number, call: AgentToolCall, outcome: ToolOutcome, durationMs: number): Promise<void> {
    const { text, truncated } = truncateForModel(outcome.content, this.settings.toolResultMaxChars);
    await this.append({ role: 'tool', content: text, toolName: call.name, callId: call.id });
    const size = outcome.content.length;
    this.ctx.emit(
      'AGENT_TOOL_RESULT',
      `Turn ${turn}: ${call.name} ${outcome.ok ? 'ok' : 'error'} (${size} characters${truncated ? `, cut to ${this.settings.toolResultMaxChars}` : ''})${outcome.ok ? '' : `: ${firstLine(outcome.content)}`}`,
      { turn, callId: call.id, name: call.name, ok: outcome.ok, sizeChars: size, truncated, content: text, durationMs, ...outcome.data },
    );
  }

  /** Tells the model its text held a call that could not be read. */
  private async answerMalformed(turn: number, problems: string[]): Promise<void> {
    const content = `Your last message tried to call a tool, but the call could not be read: ${problems.join('; ')}. Call the tools through the tool-calling interface, or write each call exactly as <function=NAME><parameter=ARGUMENT>value</parameter></function>.`;
    this.ctx.emit('AGENT_TOOL_CALL', `Turn ${turn}: an unreadable tool call`, { turn, callId: null, name: null, arguments: null, textForm: true, malformed: true, problems });
    await this.append({ role: 'user', content });
    this.ctx.emit('AGENT_TOOL_RESULT', `Turn ${turn}: unreadable tool call answered: ${problems[0]}`, {
      turn,
      callId: null,
      name: null,
      ok: false,
      malformed: true,
      sizeChars: content.length,
      truncated: false,
      content,
    });
  }

  /**
   * After a restart: the calls of the last answer that have no result yet. `finish` ends the agent;
   * reads are made again; anything else may or may not have taken effect, so the model is told it was
   * interrupted rather than having it run twice.
   */
  private async settleInterruptedCalls(): Promise<StepResult | null> {
    let lastAnswer = this.messages.length - 1;
    while (lastAnswer >= 0 && this.messages[lastAnswer]!.role !== 'assistant') lastAnswer--;
    if (lastAnswer === -1) return null;
    const answer = this.messages[lastAnswer]!;
    const answered = new Set(this.messages.slice(lastAnswer + 1).filter((m) => m.role === 'tool').map((m) => m.callId));
    const finish = answer.toolCalls?.find((c) => c.name === 'finish' && callProblem(c.name, c.arguments) === null);
    if (finish) return this.finished(String(finish.arguments.summary).trim() || '(no summary given)', 'finish');
    for (const call of answer.toolCalls ?? []) {
      if (answered.has(call.id)) continue;
      if (findTool(call.name)?.readOnly) {
        await this.runCall(this.turns, call, answer.toolCallsAsText === true);
        continue;
      }
      await this.answerCall(
        this.turns,
        call,
        {
          ok: false,
          content: `This call was interrupted: the server stopped while it ran, and it did not report a result. It may or may not have taken effect: check (read the files, look at the state) before calling it again.`,
          data: { interrupted: true },
        },
        0,
      );
    }
    return null;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function parsedFormLabel(content: string): string {
  return /<function=|<tool_call>/.test(content) ? 'XML-like <function=…> form' : 'JSON form';
}
