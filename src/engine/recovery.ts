import { killLeftoverProcessGroups } from './processes.js';
import { changeRunStatus, recordEvent, type RunnerDeps } from './runner.js';

/**
 * Crash recovery, at start-up before the worker takes runs: every run a previous server process
 * left RUNNING (killed, machine rebooted, shut down mid-step) has the processes it left behind
 * killed, its interrupted step set back to PENDING, and goes back to the queue with RUN_RECOVERED.
 * It then continues from the first step that did not complete; completed steps are not redone.
 * PAUSED runs stay paused; QUEUED ones are simply picked up. Returns the recovered run ids.
 */
export async function recoverInterruptedRuns(deps: Pick<RunnerDeps, 'store' | 'pubsub' | 'eventLog' | 'logger'>): Promise<number[]> {
  const recovered: number[] = [];
  for (const runId of await deps.store.runIdsWithStatus('RUNNING', 10_000)) {
    const project = await deps.store.getRun(runId).then((run) => (run ? deps.store.getProject(run.projectId) : null));
    const killed = project ? await killLeftoverProcessGroups(runId, project.localPath) : [];
    const steps = await deps.store.listStepRuns(runId);
    const interrupted = steps.filter((s) => s.status === 'RUNNING');
    for (const step of interrupted) await deps.store.updateStepRun(runId, step.index, { status: 'PENDING', finishedAt: null });
    const run = await changeRunStatus(deps, { id: runId, status: 'RUNNING' }, { status: 'QUEUED' });
    if (!run) continue;
    const next = steps.find((s) => s.status !== 'COMPLETED');
    const where = interrupted.length > 0 ? ` during step ${interrupted[0].index + 1}/${steps.length} (${interrupted[0].name})` : '';
    const resume = next ? `it continues from step ${next.index + 1}/${steps.length} (${next.name})` : 'it finishes now';
    await recordEvent(
      deps,
      runId,
      'RUN_RECOVERED',
      `The server stopped while this run was running${where}; ${resume}. Completed steps are not redone.${killed.length > 0 ? ` Killed ${killed.length} leftover process group(s).` : ''}`,
      null,
      { interruptedStep: interrupted[0]?.name ?? null, nextStep: next?.name ?? null, killedProcessGroups: killed },
    );
    deps.logger.info(`run ${runId} recovered: back in the queue`);
    recovered.push(runId);
  }
  return recovered;
}
