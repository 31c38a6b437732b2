import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/engine/coalesce.js';

describe('Coalescer', () => {
  it('flushes the deltas of one interval as one piece', async () => {
    const flushed: string[] = [];
    const coalescer = new Coalescer((text) => flushed.push(text), { coalesceMs: 30, coalesceBytes: 1000 });
    coalescer.push('Hel');
    coalescer.push('lo');
    coalescer.push(', world');
    expect(flushed).toEqual([]);
    await sleep(60);
    expect(flushed).toEqual(['Hello, world']);
    coalescer.push('!');
    await sleep(60);
    expect(flushed).toEqual(['Hello, world', '!']);
    coalescer.close();
  });

  it('flushes at once when enough bytes are waiting', () => {
    const flushed: string[] = [];
    const coalescer = new Coalescer((text) => flushed.push(text), { coalesceMs: 10_000, coalesceBytes: 8 });
    coalescer.push('abcd');
    coalescer.push('éé'); // 4 bytes in UTF-8
    expect(flushed).toEqual(['abcdéé']);
    coalescer.push('x');
    coalescer.flush();
    expect(flushed).toEqual(['abcdéé', 'x']);
    coalescer.close();
  });

  it('flushes what is waiting on close and ignores later deltas', async () => {
    const flushed: string[] = [];
    const coalescer = new Coalescer((text) => flushed.push(text), { coalesceMs: 10, coalesceBytes: 1000 });
    coalescer.push('last words');
    coalescer.close();
    coalescer.push('too late');
    await sleep(30);
    expect(flushed).toEqual(['last words']);
  });
});
