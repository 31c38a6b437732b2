import { describe, expect, it } from 'vitest';
import { InlineReasoningSplitter } from '../../src/engine/reasoning.js';

/** Feeds the deltas one by one and joins what comes out. */
function split(deltas: string[]): { thinking: string; answer: string } {
  const splitter = new InlineReasoningSplitter();
  let thinking = '';
  let answer = '';
  for (const delta of [...deltas.map((d) => splitter.push(d)), splitter.end()]) {
    thinking += delta.thinking;
    answer += delta.answer;
  }
  return { thinking, answer };
}

describe('InlineReasoningSplitter', () => {
  it('sets a <think> block at the start apart from the answer', () => {
    expect(split(['<think>Plan the files.</think>\n\n# Plan\n'])).toEqual({ thinking: 'Plan the files.', answer: '# Plan\n' });
  });

  it('finds the tags however the deltas cut them', () => {
    const text = '\n<think>\nStep one, step two.\n</think>\n\n# Plan\nA <think> here is text.\n';
    for (const size of [1, 2, 3, 5, 7, 11]) {
      const deltas = text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      expect(split(deltas), `deltas of ${size}`).toEqual({ thinking: '\nStep one, step two.\n', answer: '# Plan\nA <think> here is text.\n' });
    }
  });

  it('leaves an answer without a leading <think> alone, even one that starts like a tag', () => {
    expect(split(['  Hello', ' world'])).toEqual({ thinking: '', answer: '  Hello world' });
    expect(split(['<thi', 's is not a tag'])).toEqual({ thinking: '', answer: '<this is not a tag' });
    expect(split(['<', 'p>para</p>'])).toEqual({ thinking: '', answer: '<p>para</p>' });
    expect(split(['Answer </think> text'])).toEqual({ thinking: '', answer: 'Answer </think> text' });
  });

  it('counts a block the answer never closes as all reasoning', () => {
    expect(split(['<think>I will write', ' the pom</th'])).toEqual({ thinking: 'I will write the pom</th', answer: '' });
  });

  it('hands reasoning on as it streams, holding back only what may be a closing tag', () => {
    const splitter = new InlineReasoningSplitter();
    expect(splitter.push('<think>abc')).toEqual({ thinking: 'abc', answer: '' });
    expect(splitter.push('def</thi')).toEqual({ thinking: 'def', answer: '' });
    expect(splitter.push('nk>  ')).toEqual({ thinking: '', answer: '' });
    expect(splitter.push('Answer')).toEqual({ thinking: '', answer: 'Answer' });
    expect(splitter.end()).toEqual({ thinking: '', answer: '' });
  });
});
