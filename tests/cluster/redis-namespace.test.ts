/**
 * Two deployments (two PostgreSQL databases) on one Redis: run ids repeat between databases, so each
 * database's instances use channels of their own (databaseNamespace). A stop request and a run's
 * events published by an instance of one database reach the instances of that database only. Real
 * Redis (skipped when it is not running, except on CI, as tests/cluster).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBus } from '../../src/cluster/redis.js';
import { PubSub } from '../../src/engine/pubsub.js';
import type { EventRecord } from '../../src/engine/types.js';
import { REDIS_URL, servicesUp } from '../helpers/postgres.js';
import { waitFor } from '../helpers/test-app.js';

const unavailable = await servicesUp();
if (unavailable !== null && process.env.CI) throw new Error(`tests/cluster need PostgreSQL and Redis on CI: ${unavailable}`);

const silent = { info: () => undefined, error: () => undefined };

describe.skipIf(unavailable !== null)('Redis shared by two databases', { timeout: 60_000 }, () => {
  const buses: RedisBus[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  it('stop requests and events reach the instances of the same database only', async () => {
    const namespace = `test${Date.now().toString(16)}`;
    const heard: Record<string, Array<[number, string]>> = { same: [], other: [] };
    const events: Record<string, number[]> = { same: [], other: [] };
    const join = async (who: 'sender' | 'same' | 'other', ns: string) => {
      const pubsub = new PubSub();
      const bus = await RedisBus.connect(REDIS_URL, `${namespace}-${who}`, ns, pubsub, silent, (runId, request) => heard[who]?.push([runId, request]));
      buses.push(bus);
      if (who !== 'sender') pubsub.subscribe('runEvent', 7, (event: EventRecord) => events[who]!.push(event.seq));
      return { bus, pubsub };
    };
    const sender = await join('sender', `${namespace}-a`);
    await join('same', `${namespace}-a`);
    await join('other', `${namespace}-b`);

    const event = (seq: number) => ({ id: seq, runId: 7, seq, type: 'RUN_QUEUED', message: 'queued', stepName: null, data: null, createdAt: new Date() }) as EventRecord;
    // Redis follows a channel a moment after the listener is added: send again until heard.
    await waitFor(
      () => {
        if (heard.same!.length > 0 && events.same!.length > 0) return true;
        sender.bus.publishControl(7, 'STOP');
        sender.pubsub.publish('runEvent', 7, event(1));
        return false;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'the same database’s instance to hear both' },
    );
    // Markers sent after them on the other namespace arrive after anything sent before: nothing leaked.
    const marker = await join('sender', `${namespace}-b`);
    await waitFor(
      () => {
        if (heard.other!.length > 0 && events.other!.length > 0) return true;
        marker.bus.publishControl(8, 'PAUSE');
        marker.pubsub.publish('runEvent', 7, event(99));
        return false;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'the markers' },
    );
    expect(new Set(heard.same!.map(String))).toEqual(new Set(['7,STOP']));
    expect(new Set(events.same)).toEqual(new Set([1]));
    expect(new Set(heard.other!.map(String))).toEqual(new Set(['8,PAUSE']));
    expect(new Set(events.other)).toEqual(new Set([99]));
  });
});
