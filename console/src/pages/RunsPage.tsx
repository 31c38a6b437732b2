import { useCallback, useEffect, useRef, useState } from 'react';
import {
  ConsoleProcessQueueDocument,
  ConsoleProjectsDocument,
  ConsoleRunDocument,
  ConsoleRunProgressDocument,
  ConsoleRunsDocument,
  ConsoleRunUpdatedDocument,
  ConsoleWorkerDocument,
  type ConsoleRunFragment,
  type RunStatus,
} from '../../../src/client/generated/graphql';
import { api, type ApiError } from '../api';
import { Empty, ErrorBox, Loading, PageTitle, StatusBadge } from '../components/common';
import { formatDateTime, formatDuration, formatWhen, RUN_STATUS_LABEL, RUN_STATUSES, shorten } from '../format';
import { useDocumentTitle, useNow, useQuery } from '../hooks';
import { Link, navigate, useLocation } from '../router';

const PAGE_SIZE = 100;
/** Runs whose current step is followed live on the dashboard (the running ones, newest first). */
const FOLLOWED_RUNNING = 10;

function byNewest(a: { id: string }, b: { id: string }) {
  return Number(b.id) - Number(a.id);
}

/**
 * Where a run is, in a few words: every step running (steps at once are listed together; a loop
 * with its running steps and iteration), else the failed step, else how many are done. Counts the
 * workflow's own steps (a loop is one, whatever its iterations).
 */
export function currentStep(run: ConsoleRunFragment): string {
  const top = run.steps.filter((s) => s.loop === null);
  const total = top.length;
  const place = (step: ConsoleRunFragment['steps'][number]) => `(${top.indexOf(step) + 1}/${total})`;
  const running = top.filter((s) => s.status === 'RUNNING');
  if (running.length > 0) {
    return running
      .map((step) => {
        const inner = run.steps.filter((s) => s.loop === step.name && s.status === 'RUNNING');
        return inner.length > 0 ? `${step.name} › ${inner.map((s) => s.name).join(', ')}, iteration ${inner[0]!.iteration} ${place(step)}` : `${step.name} ${place(step)}`;
      })
      .join(', ');
  }
  const failed = top.find((s) => s.status === 'FAILED');
  if (failed) return `${failed.name} failed ${place(failed)}`;
  const done = top.filter((s) => s.status === 'COMPLETED').length;
  if (run.status === 'COMPLETED') return `all ${total} done`;
  if (done === 0) return run.status === 'QUEUED' ? 'not started' : '—';
  const next = top.find((s) => s.status === 'PENDING');
  return next ? `${done}/${total} done, next: ${next.name}` : `${done}/${total} done`;
}

export function runDuration(run: Pick<ConsoleRunFragment, 'startedAt' | 'finishedAt'>, now: number): string {
  if (!run.startedAt) return '—';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  // `now` ticks once a second: a run that started since the last tick has run for about 0 s.
  return formatDuration(Math.max(0, end - Date.parse(run.startedAt)));
}

/**
 * Follows one running run's events (only seq, type and step) from its last seq, and asks for the
 * run's row again when a step starts or ends, so "current step" stays live.
 */
function StepFollower({ run, onStep }: { run: ConsoleRunFragment; onStep: (runId: string) => void }) {
  const { id, lastSeq } = run;
  const onStepRef = useRef(onStep);
  onStepRef.current = onStep;
  useEffect(() => {
    let last = lastSeq;
    return api.stream(ConsoleRunProgressDocument, () => ({ runId: id, after: last }), {
      next: ({ runEvents }) => {
        if (runEvents.seq <= last) return;
        last = runEvents.seq;
        if (/^STEP_/.test(runEvents.type)) onStepRef.current(id);
      },
    });
    // Started once per run: `last` carries on across reconnects.
  }, [id]);
  return null;
}

export function RunsPage() {
  const { search } = useLocation();
  const projectId = search.get('project') || null;
  const status = (search.get('status') as RunStatus | null) || null;
  useDocumentTitle('Runs');
  const now = useNow(1000);

  const runs = useQuery(ConsoleRunsDocument, { projectId, status, first: PAGE_SIZE });
  const projects = useQuery(ConsoleProjectsDocument, {});
  const worker = useQuery(ConsoleWorkerDocument, {});
  const [queueError, setQueueError] = useState<ApiError | null>(null);
  const knownProjects = useRef(projects.data);
  knownProjects.current = projects.data;

  const upsert = useCallback(
    (run: ConsoleRunFragment) => {
      runs.setData((current) => {
        if (!current) return current;
        const matches = (!projectId || run.project.id === projectId) && (!status || run.status === status);
        const others = current.runs.filter((r) => r.id !== run.id);
        const known = others.length !== current.runs.length;
        // A run we have not seen is new only if it is newer than what the list holds.
        const isNew = !known && (current.runs.length === 0 || Number(run.id) > Number(current.runs.at(-1)!.id) || current.runs.length < PAGE_SIZE);
        if (!matches || (!known && !isNew)) return { runs: others };
        return { runs: [...others, run].sort(byNewest) };
      });
    },
    [projectId, status, runs.setData],
  );

  // Answers to row reloads can arrive late: one overtaken by a newer reload of the row, or by a
  // runUpdated (which carries the whole row, fresher), is dropped.
  const rowVersions = useRef(new Map<string, number>());
  const bump = (id: string) => {
    const version = (rowVersions.current.get(id) ?? 0) + 1;
    rowVersions.current.set(id, version);
    return version;
  };
  const reloadRow = useCallback(
    (id: string) => {
      const version = bump(id);
      api.request(ConsoleRunDocument, { id }).then(
        ({ run }) => {
          if (run && rowVersions.current.get(id) === version) upsert(run);
        },
        () => {},
      );
    },
    [upsert],
  );

  useEffect(
    () =>
      api.stream(ConsoleRunUpdatedDocument, () => ({ projectId: null }), {
        next: ({ runUpdated }) => {
          bump(runUpdated.id);
          upsert(runUpdated);
          // A new project shows up in the filter when its first run does.
          if (!knownProjects.current?.projects.some((p) => p.id === runUpdated.project.id)) void projects.refetch();
          void worker.refetch();
        },
      }),
    [upsert],
  );

  const setFilter = (name: 'project' | 'status', value: string) => {
    const params = new URLSearchParams(search);
    if (value) params.set(name, value);
    else params.delete(name);
    const query = params.toString();
    navigate(query ? `/?${query}` : '/', { replace: true });
  };

  const list = runs.data?.runs ?? [];
  const running = list.filter((r) => r.status === 'RUNNING').slice(0, FOLLOWED_RUNNING);
  const filtered = Boolean(projectId || status);
  const queued = list.filter((r) => r.status === 'QUEUED').length;

  const processQueue = async () => {
    setQueueError(null);
    try {
      await api.request(ConsoleProcessQueueDocument, {});
      await Promise.all([worker.refetch(), runs.refetch()]);
    } catch (error) {
      setQueueError(error as ApiError);
    }
  };

  return (
    <>
      <PageTitle
        actions={
          <Link to={projectId ? `/runs/new?project=${projectId}` : '/runs/new'} className="button button-primary">
            New run
          </Link>
        }
      >
        Runs
      </PageTitle>

      {worker.data ? (
        worker.data.worker.sandbox.active ? (
          <p className="muted sandbox-note" title={worker.data.worker.sandbox.summary}>
            Commands run sandboxed ({worker.data.worker.sandbox.tool}).
          </p>
        ) : (
          <div className="banner banner-info" role="note">
            <p>
              <strong>Commands are not sandboxed:</strong> {worker.data.worker.sandbox.summary}
            </p>
          </div>
        )
      ) : null}

      {worker.data && !worker.data.worker.enabled ? (
        <div className="banner banner-info" role="note">
          <p>
            The worker is off on this server (<code>DISABLE_WORKER=true</code>): new runs wait in the queue until you start them.
            {worker.data.worker.queued > 0 ? ` ${worker.data.worker.queued} waiting.` : ''}
          </p>
          <button type="button" className="button" onClick={processQueue}>
            Start queued runs now
          </button>
          {queueError ? <ErrorBox error={queueError} title="Could not start the queue" /> : null}
        </div>
      ) : null}

      <form className="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label className="field field-inline">
          <span className="label">Project</span>
          <select value={projectId ?? ''} onChange={(e) => setFilter('project', e.target.value)}>
            <option value="">All projects</option>
            {projects.data?.projects.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span className="label">Status</span>
          <select value={status ?? ''} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {RUN_STATUS_LABEL[s].text}
              </option>
            ))}
          </select>
        </label>
        {filtered ? (
          <button type="button" className="button button-link" onClick={() => navigate('/', { replace: true })}>
            Clear filters
          </button>
        ) : null}
        {runs.data ? (
          <span className="muted filters-count" aria-live="polite">
            {list.length === PAGE_SIZE ? `newest ${PAGE_SIZE} shown` : `${list.length} shown`}
            {queued > 0 && worker.data?.worker.enabled ? ` · ${queued} queued` : ''}
          </span>
        ) : null}
      </form>

      {running.map((run) => (
        <StepFollower key={run.id} run={run} onStep={reloadRow} />
      ))}

      {runs.error && !runs.data ? <ErrorBox error={runs.error} title="Could not load the runs" onRetry={runs.refetch} /> : null}
      {!runs.data && !runs.error ? <Loading what="runs" /> : null}

      {runs.data && list.length === 0 ? (
        filtered ? (
          <Empty title="No runs match these filters.">
            <button type="button" className="button" onClick={() => navigate('/', { replace: true })}>
              Clear filters
            </button>
          </Empty>
        ) : (
          <Empty title="No runs yet — create one.">
            <p>A run executes a workflow (such as quarkus-bootstrap-v1) for a goal, in a project’s folder, and you watch every step live here.</p>
            <Link to="/runs/new" className="button button-primary">
              Create a run
            </Link>
          </Empty>
        )
      ) : null}

      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="runs-table responsive-table">
            <caption className="sr-only">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Project</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Current step</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {list.map((run) => (
                <tr key={run.id} data-run-id={run.id}>
                  <td data-label="Run">
                    <Link to={`/runs/${run.id}`} className="run-link">
                      <span className="run-id">#{run.id}</span> {shorten(run.name || run.goal, 70)}
                    </Link>
                  </td>
                  <td data-label="Project">{run.project.name}</td>
                  <td data-label="Workflow">
                    {run.runType === 'AGENT' ? 'agent' : (run.workflowName ?? '—')}
                    {run.runType !== 'AGENT' && run.workflowVersion ? <span className="muted"> v{run.workflowVersion}</span> : null}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={run.status} pauseRequested={run.pauseRequested} />
                  </td>
                  <td data-label="Current step">{currentStep(run)}</td>
                  <td data-label="Started">
                    <span title={formatDateTime(run.startedAt ?? run.createdAt)}>{run.startedAt ? formatWhen(run.startedAt, now) : `queued ${formatWhen(run.createdAt, now)}`}</span>
                  </td>
                  <td data-label="Duration">{runDuration(run, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
