import { describe, expect, it } from 'vitest';
import { MAX_BUFFERED_RUN_UPDATES, streamRunUpdates } from '../../src/engine/event-stream.js';
import { PubSub } from '../../src/engine/pubsub.js';
import type { RunRecord } from '../../src/engine/types.js';
import { UserError } from '../../src/errors.js';

const run = (id: number, projectId = 1): RunRecord => ({
  id,
  projectId,
  name: null,
  goal: 'g',
  runType: 'WORKFLOW',
  status: 'RUNNING',
  workflowName: 'w',
  workflowVersion: '1',
  definition: null,
  definitionHash: null,
  inputs: {},
  options: {},
  models: [],
  requiredLabels: [],
  placement: null,
  timeoutSeconds: 300,
  error: null,
  createdAt: new Date(0),
  startedAt: null,
  finishedAt: null,
});

describe('a slow runUpdated subscriber', () => {
  it('is cut off past its bound with SUBSCRIBER_TOO_SLOW, after everything it had buffered, while another keeps up', async () => {
    const pubsub = new PubSub();
    const slow = streamRunUpdates(pubsub, null);
    const fast = streamRunUpdates(pubsub, 1);
    const first = slow.next(); // subscribes
    const fastFirst = fast.next();
    const fastSeen: number[] = [];
    for (let id = 1; id <= MAX_BUFFERED_RUN_UPDATES + 5; id++) {
      pubsub.publish('runUpdated', 'all', run(id, id === 3 ? 2 : 1));
      // The fast subscriber takes each update as it comes; the filter drops project 2.
      if (id === 1) fastSeen.push((await fastFirst).value!.id);
      else if (id !== 3) fastSeen.push((await fast.next()).value!.id);
    }
    expect(fastSeen).toHaveLength(MAX_BUFFERED_RUN_UPDATES + 4);
    expect(fastSeen.includes(3)).toBe(false);

    const received = [(await first).value!.id];
    let caught: unknown;
    try {
      for (;;) {
        const step = await slow.next();
        if (step.done) break;
        received.push(step.value.id);
      }
    } catch (error) {
      caught = error;
    }
    // The first update went straight to the waiting reader; the bound holds the next ones.
    expect(received).toEqual(Array.from({ length: MAX_BUFFERED_RUN_UPDATES + 1 }, (_, i) => i + 1));
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).code).toBe('SUBSCRIBER_TOO_SLOW');
    await fast.return?.();
    expect(pubsub.listenerCount('runUpdated', 'all')).toBe(0);
  });
});
