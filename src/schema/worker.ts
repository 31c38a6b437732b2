import type { WorkerStatus } from '../engine/worker.js';
import { builder } from './builder.js';

export const WorkerStatusRef = builder.objectRef<WorkerStatus>('WorkerStatus');

WorkerStatusRef.implement({
  description: 'The in-process worker that executes queued runs.',
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled', { description: 'Whether it picks up runs by itself (false when DISABLE_WORKER=true; processQueue still works).' }),
    concurrency: t.exposeInt('concurrency', { description: 'Runs executed at once (WORKER_CONCURRENCY).' }),
    activeRunIds: t.field({ type: ['ID'], description: 'Runs executing now.', resolve: (s) => s.activeRunIds }),
    queued: t.exposeInt('queued', { description: 'Runs waiting in the queue.' }),
    checkIntervalSeconds: t.exposeFloat('checkIntervalSeconds', { description: 'Seconds between polls of the queue (WORKER_CHECK_INTERVAL); new runs start at once regardless.' }),
    lastCheckAt: t.expose('lastCheckAt', { type: 'DateTime', nullable: true, description: 'When the queue was last looked at.' }),
  }),
});

builder.queryFields((t) => ({
  worker: t.field({
    type: WorkerStatusRef,
    description: 'The worker’s state.',
    resolve: (_root, _args, { services }) => services.worker.status(),
  }),
}));

builder.mutationFields((t) => ({
  processQueue: t.field({
    type: WorkerStatusRef,
    description: 'Claims queued runs now, up to the free slots (the seed’s manual trigger; works even when DISABLE_WORKER=true).',
    resolve: (_root, _args, { services }) => services.worker.processQueue(),
  }),
}));
