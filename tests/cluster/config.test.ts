/**
 * The multi-instance settings (issue 15): DATABASE_URL, REDIS_URL, WORKER_LABELS, LEASE_SECONDS and
 * INSTANCE_ID as loadConfig reads them, and the errors that name what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('multi-instance configuration', () => {
  it('defaults: SQLite and in-process, no labels, leases of 15 s, an instance id of host, pid and a suffix', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ databaseUrl: null, redisUrl: null, workerLabels: [], leaseSeconds: 15 });
    expect(config.instanceId).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
  });

  it('reads PostgreSQL, Redis, labels (sorted, without repeats), the lease and the instance id', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://runner:secret@db:5432/agent_runner',
      REDIS_URL: 'rediss://redis:6380',
      WORKER_LABELS: 'maven, gpu,gpu, host-a',
      LEASE_SECONDS: '5',
      INSTANCE_ID: 'box-1',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://runner:secret@db:5432/agent_runner',
      redisUrl: 'rediss://redis:6380',
      workerLabels: ['gpu', 'host-a', 'maven'],
      leaseSeconds: 5,
      instanceId: 'box-1',
    });
  });

  it.each([
    [{ DATABASE_URL: 'mysql://db/x' }, /DATABASE_URL is invalid: expected a URL such as postgres:\/\/.* \(scheme postgres or postgresql\)/],
    [{ DATABASE_URL: 'postgres://db/x', REDIS_URL: 'http://redis' }, /REDIS_URL is invalid: expected a URL such as redis:\/\/127\.0\.0\.1:6379 \(scheme redis or rediss\)/],
    [{ REDIS_URL: 'redis://redis:6379' }, /REDIS_URL is set without DATABASE_URL/],
    [{ WORKER_LABELS: 'gpu,Big GPU' }, /WORKER_LABELS has "Big GPU": a label is 1 to 63 lower-case letters/],
    [{ LEASE_SECONDS: '0' }, /LEASE_SECONDS="0" is invalid: expected a whole number from 1 to 3600/],
  ])('%j is refused, saying what to do', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never prints the password of a bad URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' })).not.toThrow(/hunter2/);
  });
});
