/** Text a streamed answer delta split into: reasoning, and the answer proper. Either may be empty. */
export interface SplitDelta {
  thinking: string;
  answer: string;
}

const OPEN = '<think>';
const CLOSE = '</think>';

/**
 * Sets apart the reasoning that some models (and older Ollama servers) write inline, as a
 * `<think>…</think>` block at the very start of the answer (after blank space), from the answer
 * itself, as the answer streams in. Tags may arrive split across deltas: text that could still be
 * the start of a tag is held back until it is clear. Blank space after the closing tag is dropped.
 * A block that is never closed is all reasoning (the answer is then empty). A `<think>` anywhere
 * but at the start is part of the answer.
 */
export class InlineReasoningSplitter {
  private state: 'start' | 'reasoning' | 'after-reasoning' | 'answer' = 'start';
  private held = '';

  /** Splits the next delta of the answer text. */
  push(delta: string): SplitDelta {
    this.held += delta;
    const out: SplitDelta = { thinking: '', answer: '' };
    for (;;) {
      if (this.state === 'start') {
        const trimmed = this.held.trimStart();
        if (trimmed === '' || (trimmed.length < OPEN.length && OPEN.startsWith(trimmed))) return out;
        if (trimmed.startsWith(OPEN)) {
          this.held = trimmed.slice(OPEN.length);
          this.state = 'reasoning';
        } else {
          this.state = 'answer';
        }
        continue;
      }
      if (this.state === 'reasoning') {
        const close = this.held.indexOf(CLOSE);
        if (close < 0) {
          const keep = partialTagLength(this.held, CLOSE);
          out.thinking += this.held.slice(0, this.held.length - keep);
          this.held = this.held.slice(this.held.length - keep);
          return out;
        }
        out.thinking += this.held.slice(0, close);
        this.held = this.held.slice(close + CLOSE.length);
        this.state = 'after-reasoning';
        continue;
      }
      if (this.state === 'after-reasoning') {
        this.held = this.held.trimStart();
        if (this.held === '') return out;
        this.state = 'answer';
        continue;
      }
      out.answer += this.held;
      this.held = '';
      return out;
    }
  }

  /** What is still held back once the answer has ended. */
  end(): SplitDelta {
    const held = this.held;
    this.held = '';
    if (this.state === 'reasoning') return { thinking: held, answer: '' };
    if (this.state === 'after-reasoning') return { thinking: '', answer: '' };
    return { thinking: '', answer: held };
  }
}

/** Length of the longest end of `text` that is a beginning of `tag` (a tag cut between two deltas). */
function partialTagLength(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length -= 1) {
    if (tag.startsWith(text.slice(text.length - length))) return length;
  }
  return 0;
}
