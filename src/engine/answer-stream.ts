import { Coalescer } from './coalesce.js';
import { InlineReasoningSplitter } from './reasoning.js';
import type { StepContext } from './types.js';

/**
 * What a step does with a model's answer as it streams: the reasoning (Ollama's `thinking` field,
 * or a `<think>…</think>` block at the start of the text) is set apart as LLM_THINKING and the answer
 * proper goes out as LLM_TOKEN, both coalesced and in the order they came, both `{ text }`; and
 * LLM_HEARTBEAT is recorded while the model sends nothing. Used by LLM steps and agents alike.
 */
export class AnswerStream {
  /** The answer proper so far, reasoning set apart. */
  text = '';
  /** The reasoning so far. */
  thinking = '';
  private readonly tokens: Coalescer;
  private readonly thoughts: Coalescer;
  private readonly inline = new InlineReasoningSplitter();
  private readonly heartbeat: Heartbeat;

  constructor(ctx: StepContext, model: string, startedAt = Date.now()) {
    this.tokens = new Coalescer((delta) => ctx.emit('LLM_TOKEN', delta, { text: delta }), ctx.settings);
    this.thoughts = new Coalescer((delta) => ctx.emit('LLM_THINKING', delta, { text: delta }), ctx.settings);
    this.heartbeat = new Heartbeat(ctx, model, startedAt);
  }

  /** One streamed part: its `thinking` field and its text (which may open with inline reasoning). */
  push(part: { thinking?: string; text?: string }): void {
    if (part.thinking || part.text) this.heartbeat.textArrived();
    if (part.thinking) this.addThinking(part.thinking);
    if (part.text) this.addSplit(this.inline.push(part.text));
  }

  /** Something other than text arrived (a tool call): the model is not silent. */
  alive(): void {
    this.heartbeat.textArrived();
  }

  /** The answer is complete: what the inline splitter still held is handed on. */
  end(): void {
    this.addSplit(this.inline.end());
  }

  /** Stops the heartbeat and flushes what waits (call it however the answer ended). */
  close(): void {
    this.heartbeat.stop();
    this.thoughts.close();
    this.tokens.close();
  }

  private addSplit(split: { thinking: string; answer: string }): void {
    this.addThinking(split.thinking);
    if (split.answer === '') return;
    // Each kind flushes the other first, so the events keep the order in which the text came.
    this.thoughts.flush();
    this.text += split.answer;
    this.tokens.push(split.answer);
  }

  private addThinking(delta: string): void {
    if (delta === '') return;
    this.tokens.flush();
    this.thinking += delta;
    this.thoughts.push(delta);
  }
}

/**
 * LLM_HEARTBEAT every `heartbeatMs` while the model sends no text: all along until the first text
 * (the model loading), then whenever a whole interval passes without any (a pause mid-answer).
 */
class Heartbeat {
  private readonly timer: NodeJS.Timeout;
  private lastTextAt: number | undefined;

  constructor(ctx: StepContext, model: string, startedAt: number) {
    const { heartbeatMs } = ctx.settings;
    this.timer = setInterval(() => {
      const now = Date.now();
      const elapsedSeconds = Math.round((now - startedAt) / 1000);
      if (this.lastTextAt === undefined) {
        ctx.emit('LLM_HEARTBEAT', `Still waiting on ${model}… ${elapsedSeconds}s elapsed`, { model, elapsedSeconds });
      } else if (now - this.lastTextAt >= heartbeatMs) {
        const silentSeconds = Math.round((now - this.lastTextAt) / 1000);
        ctx.emit('LLM_HEARTBEAT', `Still waiting on ${model}: no new text for ${silentSeconds}s (${elapsedSeconds}s elapsed)`, { model, elapsedSeconds, silentSeconds });
      }
    }, heartbeatMs);
  }

  textArrived(): void {
    this.lastTextAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
