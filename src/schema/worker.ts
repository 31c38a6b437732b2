import { SANDBOX_SETTINGS, type CommandContainment, type SandboxSetting, type SandboxStatus } from '../engine/types.js';
import type { WorkerStatus } from '../engine/worker.js';
import { builder } from './builder.js';

const SandboxSettingEnum = builder.enumType('SandboxSetting', {
  description: 'The server’s SANDBOX setting.',
  values: {
    AUTO: { value: 'auto', description: 'Commands run in the sandbox when it works on this machine; otherwise unsandboxed, with a warning at start.' },
    ON: { value: 'on', description: 'Commands always run in the sandbox: the server does not start without one.' },
    OFF: { value: 'off', description: 'Commands never run in the sandbox.' },
  } satisfies Record<Uppercase<SandboxSetting>, { value: (typeof SANDBOX_SETTINGS)[number]; description: string }>,
});

const CommandContainmentEnum = builder.enumType('CommandContainment', {
  description: 'How every process a command started is ended when it exits, times out or is stopped.',
  values: {
    PID_NAMESPACE: {
      value: 'pid-namespace',
      description: 'The command runs in a PID namespace of its own: when it ends, the kernel ends every process in it, however detached.',
    },
    PROCESS_GROUP: {
      value: 'process-group',
      description: 'No namespace could be made: the command’s process group, and every process carrying its marker (AGENT_RUNNER_COMMAND_ID) in its environment, are ended; a process that clears its environment and leaves the group can escape.',
    },
  } satisfies Record<string, { value: CommandContainment; description: string }>,
});

const CommandSandboxRef = builder.objectRef<SandboxStatus>('CommandSandbox');

CommandSandboxRef.implement({
  description:
    'Whether shell and Maven commands run sandboxed (bubblewrap: read-only system, writable workspace, private /tmp, the database folder and credentials hidden, a PID namespace of their own). Found at start-up.',
  fields: (t) => ({
    setting: t.expose('setting', { type: SandboxSettingEnum, description: 'The SANDBOX setting.' }),
    active: t.exposeBoolean('active', { description: 'True when commands run in the sandbox.' }),
    tool: t.exposeString('tool', { nullable: true, description: 'The sandbox program and its version (such as "bubblewrap 0.8.0"); null when not sandboxed.' }),
    containment: t.expose('containment', { type: CommandContainmentEnum, description: 'How all the processes of a command are ended.' }),
    summary: t.exposeString('summary', { description: 'How commands run, in words; when they are not sandboxed, why, and what to install.' }),
  }),
});

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
    sandbox: t.expose('sandbox', { type: CommandSandboxRef, description: 'Whether the commands of runs (shell and Maven steps) run sandboxed, and how their processes are ended.' }),
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
