import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import {
  ConsolePauseRunDocument,
  ConsoleResumeRunDocument,
  ConsoleRetryRunDocument,
  ConsoleRunDocument,
  ConsoleRunEventsDocument,
  ConsoleRunUpdatedDocument,
  ConsoleStopRunDocument,
  type ConsoleArtifactFragment,
  type ConsoleRunFragment,
  type ConsoleRunQuery,
  type RunStatus,
} from '../../../src/client/generated/graphql';
import { api, ApiError } from '../api';
import { AgentPanel } from '../components/AgentPanel';
import { Empty, ErrorBox, Loading, PageTitle, StatusBadge } from '../components/common';
import { DownloadLink } from '../components/DownloadLink';
import { StepGraph } from '../components/StepGraph';
import { stepNames, withGraph } from '../flow';
import {
  ARTIFACT_KIND_LABEL,
  EVENT_LABEL,
  formatBytes,
  formatDateTime,
  formatOffset,
  formatValue,
  MODEL_SOURCE_LABEL,
  plural,
  shortHash,
} from '../format';
import { useDocumentTitle, useNow, useQuery } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import { appendEvents, buildTimeline, deltaText, outputStream, type TimelineEvent, type TimelineItem } from '../timeline';
import { runDuration } from './RunsPage';

type FullRun = NonNullable<ConsoleRunQuery['run']>;

const ENDED: RunStatus[] = ['COMPLETED', 'FAILED', 'STOPPED'];
/** Events after which the run's steps, status or artifacts changed: reload the run. */
const RELOAD_ON = new Set<TimelineEvent['type']>([
  'WORKFLOW_STARTED',
  'STEP_STARTED',
  'STEP_COMPLETED',
  'STEP_FAILED',
  'STEP_RETRYING',
  'STEP_SKIPPED',
  'LOOP_ITERATION_STARTED',
  'LOOP_ITERATION_COMPLETED',
  'ARTIFACT_CREATED',
  'RUN_PAUSED',
  'RUN_RESUMED',
  'RUN_STOPPED',
  'RUN_RECOVERED',
  'RUN_QUEUED',
  'WORKFLOW_COMPLETED',
  'WORKFLOW_FAILED',
]);

/**
 * The run's events, replayed then live through runEvents. After a lost connection it subscribes
 * again from the last seq it holds, so nothing is missed or shown twice; `generation` restarts it
 * (a retried run goes on producing events after its stream had ended).
 */
function useRunEvents(runId: string, generation: number, onEvent: (event: TimelineEvent) => void) {
  const [events, setEvents] = useState<TimelineEvent[]>([]);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const lastSeq = useRef(0);
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;

  useEffect(() => {
    setEnded(false);
    setError(null);
    let pending: TimelineEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Deltas arrive every ~100 ms per stream: render them in small batches.
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setEvents((current) => appendEvents(current, batch));
    };
    const stop = api.stream(ConsoleRunEventsDocument, () => ({ runId, after: lastSeq.current }), {
      next: ({ runEvents }) => {
        if (runEvents.seq <= lastSeq.current) return;
        lastSeq.current = runEvents.seq;
        pending.push(runEvents);
        timer ??= setTimeout(flush, 30);
        onEventRef.current(runEvents);
      },
      complete: () => {
        if (timer) clearTimeout(timer);
        flush();
        setEnded(true);
      },
      error: (streamError) => setError(streamError),
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
      flush();
    };
  }, [runId, generation]);

  return { events, ended, error };
}

function Controls({ run, onRun }: { run: FullRun; onRun: (run: ConsoleRunFragment) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [confirmStop, setConfirmStop] = useState(false);
  const firstUnfinished = run.steps.find((s) => s.status !== 'COMPLETED')?.name ?? run.steps[0]?.name ?? '';
  const [fromStep, setFromStep] = useState(firstUnfinished);
  useEffect(() => setFromStep(firstUnfinished), [firstUnfinished]);
  const versions = run.workflow?.versions ?? [];
  const [onVersion, setOnVersion] = useState(run.workflowVersion ?? '');
  useEffect(() => setOnVersion(run.workflowVersion ?? ''), [run.workflowVersion]);

  const act = async (what: string, action: () => Promise<ConsoleRunFragment>) => {
    setBusy(what);
    setError(null);
    try {
      onRun(await action());
      setConfirmStop(false);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(String(caught)));
    } finally {
      setBusy(null);
    }
  };
  const pause = () => act('pause', async () => (await api.request(ConsolePauseRunDocument, { id: run.id })).pauseRun);
  const resume = () => act('resume', async () => (await api.request(ConsoleResumeRunDocument, { id: run.id })).resumeRun);
  const stop = () => act('stop', async () => (await api.request(ConsoleStopRunDocument, { id: run.id })).stopRun);
  const retry = () => act('retry', async () => (
      await api.request(ConsoleRetryRunDocument, {
        id: run.id,
        fromStep: fromStep || null,
        workflowVersion: onVersion && onVersion !== run.workflowVersion ? onVersion : null,
      })
    ).retryRun);

  const { status, pauseRequested } = run;
  const canPause = status === 'RUNNING' && !pauseRequested;
  const canCancelPause = status === 'RUNNING' && pauseRequested;
  const canResume = status === 'PAUSED';
  const canStop = status === 'QUEUED' || status === 'RUNNING' || status === 'PAUSED';
  const canRetry = status === 'FAILED' || status === 'STOPPED';
  if (!canPause && !canCancelPause && !canResume && !canStop && !canRetry) return null;

  return (
    <div className="controls" role="group" aria-label="Run control">
      {canPause ? (
        <button type="button" className="button" onClick={pause} disabled={busy !== null} title="The running step finishes, then the run waits">
          {busy === 'pause' ? 'Pausing…' : 'Pause'}
        </button>
      ) : null}
      {canCancelPause ? (
        <button type="button" className="button" onClick={resume} disabled={busy !== null}>
          Cancel the pause
        </button>
      ) : null}
      {canResume ? (
        <button type="button" className="button button-primary" onClick={resume} disabled={busy !== null}>
          {busy === 'resume' ? 'Resuming…' : 'Resume'}
        </button>
      ) : null}
      {canStop && !confirmStop ? (
        <button type="button" className="button button-danger" onClick={() => setConfirmStop(true)} disabled={busy !== null}>
          Stop
        </button>
      ) : null}
      {canStop && confirmStop ? (
        <span className="confirm" role="group" aria-label="Confirm stop">
          <span>Stop now? The running step is cut off.</span>
          <button type="button" className="button button-danger" onClick={stop} disabled={busy !== null} autoFocus>
            {busy === 'stop' ? 'Stopping…' : 'Stop the run'}
          </button>
          <button type="button" className="button" onClick={() => setConfirmStop(false)} disabled={busy !== null}>
            Keep it running
          </button>
        </span>
      ) : null}
      {canRetry ? (
        <span className="retry">
          <label className="field-inline">
            <span className="label">Retry from</span>
            <select value={fromStep} onChange={(e) => setFromStep(e.target.value)}>
              {stepNames(run.steps).map((name, i) => (
                <option key={name} value={name}>
                  {i + 1}. {name}
                </option>
              ))}
            </select>
          </label>
          {versions.length > 1 ? (
            <label className="field-inline">
              <span className="label">on version</span>
              <select value={onVersion} onChange={(e) => setOnVersion(e.target.value)}>
                {versions.map((v) => (
                  <option key={v.version} value={v.version}>
                    {v.version}
                    {v.version === run.workflowVersion ? ' (its own)' : v.latest ? ' (latest)' : ''}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <button type="button" className="button button-primary" onClick={retry} disabled={busy !== null}>
            {busy === 'retry' ? 'Retrying…' : 'Retry'}
          </button>
        </span>
      ) : null}
      {error ? <ErrorBox error={error} title="That did not work" /> : null}
    </div>
  );
}

/** How each kind of streamed text is shown: its label, what it says while streaming, its text's class and label. */
const STREAM_VIEW = {
  llm: { label: 'Model output', streaming: ' · generating…', className: 'llm-text', aria: 'Text generated by the model' },
  thinking: { label: 'Reasoning', streaming: ' · thinking…', className: 'thinking-text', aria: 'The model’s reasoning (not part of its answer)' },
  shell: { label: 'Command output', streaming: ' · running…', className: 'shell-text', aria: 'Command output' },
} as const;

function StreamBlock({ item, origin, streaming }: { item: Extract<TimelineItem, { kind: 'llm' | 'thinking' | 'shell' }>; origin: string; streaming: boolean }) {
  const pre = useRef<HTMLPreElement>(null);
  const first = item.events[0]!;
  const last = item.events.at(-1)!;
  const characters = item.events.reduce((sum, e) => sum + deltaText(e).length, 0);
  const stick = useRef(true);
  const view = STREAM_VIEW[item.kind];
  useLayoutEffect(() => {
    const element = pre.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [item.events.length]);
  const row = (
    <>
      <span className="tl-time" title={formatDateTime(first.createdAt)}>
        {formatOffset(first.createdAt, origin)}
      </span>
      <span className="tl-seq">
        #{first.seq}
        {last.seq !== first.seq ? `–${last.seq}` : ''}
      </span>
      <span className="tl-type">{view.label}</span>
      <span className="tl-message muted">
        {plural(characters, 'character')}
        {item.kind === 'thinking' ? ' · not part of the answer' : ''}
        {streaming ? view.streaming : ''}
      </span>
    </>
  );
  const text = (
    <pre
      ref={pre}
      className={view.className}
      data-testid={view.className}
      data-step={first.stepName ?? ''}
      tabIndex={0}
      aria-label={`${view.aria}${item.kind !== 'shell' && first.stepName ? ` in step ${first.stepName}` : ''}`}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
      }}
    >
        {item.events.map((event) => (
          <span key={event.seq} data-seq={event.seq} className={item.kind === 'shell' && outputStream(event) === 'stderr' ? 'stderr' : undefined}>
            {deltaText(event)}
          </span>
        ))}
        {streaming ? (
          <span className="cursor" aria-hidden="true">
            ▍
          </span>
        ) : null}
    </pre>
  );
  // Reasoning is folded away under its row: open it to read how the model got to its answer.
  if (item.kind === 'thinking') {
    return (
      <li className="tl-stream tl-stream-thinking">
        <details className="reasoning" data-testid="reasoning" data-step={first.stepName ?? ''}>
          <summary className="tl-row">{row}</summary>
          {text}
        </details>
      </li>
    );
  }
  return (
    <li className={`tl-stream tl-stream-${item.kind}`}>
      <div className="tl-row">{row}</div>
      {text}
    </li>
  );
}

/**
 * The run's events, or one step's (`step`, from the page's `?step=`). The page holds every event of
 * the run from seq 1 (replayed, then live), so one step's are a filter of them: as gapless and live
 * as the whole, with no second subscription, and switching steps or back to all is instant.
 */
function Timeline({
  run,
  events: allEvents,
  ended,
  error,
  step,
  onStep,
}: {
  run: FullRun;
  events: TimelineEvent[];
  ended: boolean;
  error: ApiError | null;
  step: string | null;
  onStep: (step: string | null) => void;
}) {
  const events = useMemo(() => (step === null ? allEvents : allEvents.filter((e) => e.stepName === step)), [allEvents, step]);
  const groups = useMemo(() => buildTimeline(events), [events]);
  const scroller = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const origin = run.createdAt;
  const running = run.status === 'RUNNING';
  // Top-level steps by their place in the workflow (a loop's steps are named with their iteration).
  const stepIndex = new Map(run.steps.filter((s) => s.loop === null).map((s) => [s.name, s.index]));
  const names = stepNames(run.steps);
  const known = step === null || names.includes(step);
  // Text still streams only while its step runs (a step beside it, or a filter, may put it last).
  const runningSteps = new Set(run.steps.filter((s) => s.status === 'RUNNING').map((s) => s.name));

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && follow) element.scrollTop = element.scrollHeight;
  }, [events, follow]);

  const lastGroup = groups.at(-1);
  const lastItem = lastGroup?.items.at(-1);

  return (
    <section className="card timeline-card" aria-labelledby="timeline-title">
      <div className="section-head">
        <h2 id="timeline-title">Timeline</h2>
        <span className="muted" data-testid="event-count">
          {step === null ? plural(events.length, 'event') : `${events.length} of ${plural(allEvents.length, 'event')}`} · times since the run was created
          {ended ? ' · complete' : running ? ' · live' : ''}
        </span>
        <label className="checkbox">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow new events
        </label>
      </div>
      <div className="timeline-filter" role="group" aria-label="Timeline filter">
        <label className="field-inline">
          <span className="label">Events of</span>
          <select value={step ?? ''} onChange={(e) => onStep(e.target.value || null)}>
            <option value="">every step</option>
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
            {!known ? <option value={step!}>{step}</option> : null}
          </select>
        </label>
        {step !== null ? (
          <>
            <span className="muted" data-testid="timeline-filter-state" role="status">
              Showing only the events of step <code>{step}</code>
              {!known ? ' — this run has no step of that name' : ''}
            </span>
            <button type="button" className="button button-small" onClick={() => onStep(null)}>
              Show all events
            </button>
          </>
        ) : null}
      </div>
      {error ? <ErrorBox error={error} title="The live timeline stopped" /> : null}
      <div
        className="timeline"
        ref={scroller}
        tabIndex={0}
        aria-label="Run events"
        onScroll={(e) => {
          // Scrolled up (wheel, keys, scrollbar): stop following; back at the bottom: follow again.
          const el = e.currentTarget;
          setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - 32);
        }}
      >
        {events.length === 0 ? (
          <p className="muted timeline-empty">
            {step !== null ? (ended ? `Step ${step} has no events.` : `No events of step ${step} yet…`) : ended ? 'This run has no events.' : 'Waiting for the first event…'}
          </p>
        ) : null}
        {groups.map((group) => {
          const index = group.stepName !== null ? stepIndex.get(group.stepName) : undefined;
          return (
            <section
              key={group.key}
              className={`tl-group ${group.stepName ? 'tl-group-step' : 'tl-group-run'}`}
              data-group={group.stepName ?? 'run'}
              data-iteration={group.iteration ?? undefined}
            >
              <h3 className="tl-group-title">
                {group.stepName ? `Step ${index !== undefined ? `${index + 1}: ` : ''}${group.stepName}${group.iteration !== null ? ` · iteration ${group.iteration}` : ''}` : 'Run'}
              </h3>
              <ol className="tl-items">
                {group.items.map((item) =>
                  item.kind === 'event' ? (
                    <li key={item.key} className={`tl-event tl-${item.event.type.toLowerCase()}`} data-seq={item.event.seq} data-type={item.event.type}>
                      <div className="tl-row">
                        <span className="tl-time" title={formatDateTime(item.event.createdAt)}>
                          {formatOffset(item.event.createdAt, origin)}
                        </span>
                        <span className="tl-seq">#{item.event.seq}</span>
                        <span className="tl-type">{EVENT_LABEL[item.event.type]}</span>
                        <span className="tl-message">{item.event.message}</span>
                      </div>
                    </li>
                  ) : (
                    <StreamBlock key={item.key} item={item} origin={origin} streaming={running && item === lastItem && runningSteps.has(group.stepName ?? '')} />
                  ),
                )}
              </ol>
            </section>
          );
        })}
      </div>
    </section>
  );
}

function Artifacts({ run }: { run: FullRun }) {
  const byStep = new Map<string, FullRun['artifacts']>();
  for (const artifact of run.artifacts) {
    const key = artifact.stepName ?? '';
    byStep.set(key, [...(byStep.get(key) ?? []), artifact]);
  }
  return (
    <section className="card run-files" aria-labelledby="artifacts-title">
      <div className="section-head">
        <h2 id="artifacts-title">Files</h2>
        <span className="muted">{plural(run.artifacts.length, 'artifact')}</span>
      </div>
      {run.artifacts.length === 0 ? (
        <p className="muted">{ENDED.includes(run.status) ? 'This run wrote no files.' : 'No files yet — the steps list them here as they write them.'}</p>
      ) : null}
      {[...byStep.entries()].map(([step, artifacts]) => (
        <div key={step} className="artifact-group">
          <h3>{step ? `Step ${step}` : 'Run'}</h3>
          <ul className="artifacts">
            {artifacts.map((artifact) => (
              <li key={artifact.id} data-artifact={artifact.path}>
                <Link to={`/runs/${run.id}/artifacts/${artifact.id}`} className="artifact-path" title={`View ${artifact.path}`}>
                  {artifact.path}
                </Link>
                <span className="artifact-meta">
                  {ARTIFACT_KIND_LABEL[artifact.kind]} · {formatBytes(artifact.sizeBytes)}
                </span>
                <DownloadLink artifact={artifact} className="button button-small" label={`Download ${artifact.path}`}>
                  Download
                </DownloadLink>
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

export function RunPage({ runId }: { runId: string }) {
  useDocumentTitle(`Run #${runId}`);
  const query = useQuery(ConsoleRunDocument, { id: runId });
  const run = query.data?.run ?? null;
  const [generation, setGeneration] = useState(0);
  const statusRef = useRef<RunStatus | null>(null);
  const reloadTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const reload = () => {
    if (reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = undefined;
      void query.refetch();
    }, 150);
  };
  useEffect(() => () => clearTimeout(reloadTimer.current), []);

  /** A newer state of the run (a mutation's answer or runUpdated): keep the artifacts and the graph we have. */
  const applyRun = (fresh: ConsoleRunFragment) => {
    query.setData((current) => (current?.run ? { run: { ...current.run, ...fresh, steps: withGraph(fresh.steps, current.run.steps) } } : current));
    reload();
  };

  // The timeline's step filter lives in the URL (?step=NAME): shareable, and Back undoes it.
  const { search } = useLocation();
  // `?step=` with nothing after it is no filter (not a filter to a step named '').
  const stepFilter = search.get('step') || null;
  const filterStep = (step: string | null) => navigate(`/runs/${runId}${step === null ? '' : `?step=${encodeURIComponent(step)}`}`, { inPage: true });

  // A run that leaves an ended status (retryRun) produces events again: follow them.
  useEffect(() => {
    const previous = statusRef.current;
    statusRef.current = run?.status ?? null;
    if (previous && run && ENDED.includes(previous) && !ENDED.includes(run.status)) setGeneration((g) => g + 1);
  }, [run?.status]);

  const { events, ended, error: streamError } = useRunEvents(runId, generation, (event) => {
    if (RELOAD_ON.has(event.type)) reload();
  });

  useEffect(
    () =>
      api.stream(ConsoleRunUpdatedDocument, () => ({ projectId: null }), {
        next: ({ runUpdated }) => {
          if (runUpdated.id === runId) applyRun(runUpdated);
        },
      }),
    // applyRun uses only stable setters: one subscription per run.
    [runId],
  );

  const now = useNow(1000, run?.status === 'RUNNING' || run?.status === 'QUEUED');

  if (query.error && !query.data) {
    return (
      <>
        <PageTitle>Run #{runId}</PageTitle>
        <ErrorBox error={query.error} title="Could not load this run" onRetry={query.refetch} />
      </>
    );
  }
  if (!query.data) {
    return (
      <>
        <PageTitle>Run #{runId}</PageTitle>
        <Loading what="the run" />
      </>
    );
  }
  if (!run) {
    return (
      <>
        <PageTitle>Run #{runId}</PageTitle>
        <Empty title={`There is no run #${runId}.`}>
          <Link to="/" className="button">
            See all runs
          </Link>
        </Empty>
      </>
    );
  }

  return (
    <>
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/">Runs</Link> / <span aria-current="page">#{run.id}</span>
      </nav>
      <PageTitle actions={<StatusBadge status={run.status} pauseRequested={run.pauseRequested} />}>
        Run #{run.id}
        {run.name ? ` · ${run.name}` : ''}
      </PageTitle>
      <p className="goal">{run.goal}</p>

      <Controls run={run} onRun={applyRun} />

      {run.status === 'FAILED' && run.error ? (
        <div className="alert alert-error" role="alert" data-testid="run-error">
          <strong>This run failed</strong>
          <p className="pre-line">{run.error}</p>
        </div>
      ) : null}
      {run.status === 'STOPPED' ? (
        <div className="alert alert-neutral" role="status">
          <strong>This run was stopped.</strong> Nothing of it runs any more; retry it to go on from a step.
        </div>
      ) : null}
      {run.status === 'PAUSED' ? (
        <div className="alert alert-warning" role="status">
          {run.runType === 'AGENT' ? (
            <>
              <strong>Paused between two model calls.</strong> Resume to go on with the conversation.
            </>
          ) : (
            <>
              <strong>Paused between two steps.</strong> Resume to go on with the next step.
            </>
          )}
        </div>
      ) : null}
      {run.status === 'QUEUED' ? (
        <div className="alert alert-neutral" role="status">
          <strong>Waiting for a worker slot.</strong> It starts as soon as one is free.
        </div>
      ) : null}

      <dl className="facts">
        <div>
          <dt>Project</dt>
          <dd>
            <Link to={`/?project=${run.project.id}`}>{run.project.name}</Link> <span className="muted path">{run.project.localPath}</span>
          </dd>
        </div>
        <div>
          <dt>Workflow</dt>
          <dd data-testid="run-workflow">
            {run.runType === 'AGENT' ? 'agent run' : run.workflowName ? <Link to="/workflows">{run.workflowName}</Link> : '—'}
            {run.workflowVersion ? (
              <>
                {' '}
                <span className="version">v{run.workflowVersion}</span>
              </>
            ) : null}
            {run.definitionHash ? (
              <span className="muted" title={`Content hash of the definition this run executes: ${run.definitionHash}`}>
                {' '}
                · <code>{shortHash(run.definitionHash)}</code>
              </span>
            ) : null}
            {run.workflow && !run.workflow.latest ? (
              <span className="muted">
                {' '}
                · not the latest ({run.workflow.versions.find((v) => v.latest)?.version ?? 'newer'}): the run keeps its own
              </span>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>Inputs</dt>
          <dd data-testid="run-inputs">
            {Object.keys(run.inputs ?? {}).length === 0
              ? 'none'
              : Object.entries(run.inputs as Record<string, unknown>).map(([name, value], i) => (
                  <span key={name} className="run-input" data-input={name}>
                    {i > 0 ? ', ' : ''}
                    <code>{name}</code> = <code>{formatValue(value)}</code>
                  </span>
                ))}
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(run.createdAt)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatDateTime(run.startedAt)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatDateTime(run.finishedAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{runDuration(run, now)}</dd>
        </div>
        <div>
          <dt>Models</dt>
          <dd>
            {run.models.length === 0
              ? 'none'
              : run.models.map((m) => (
                  <span key={m.step} className="model">
                    {m.step}: <code>{m.model}</code> <span className="muted">({MODEL_SOURCE_LABEL[m.source]})</span>
                  </span>
                ))}
          </dd>
        </div>
        <div>
          <dt>LLM timeout</dt>
          <dd>{run.timeoutSeconds ? `${run.timeoutSeconds} s` : '—'}</dd>
        </div>
      </dl>

      {run.steps.some((s) => s.type === 'AGENT') ? <AgentPanel run={run} events={events} now={now} /> : null}

      <div className="run-layout">
        <StepGraph run={run} events={events} now={now} filter={stepFilter} onFilter={filterStep} />
        <Timeline run={run} events={events} ended={ended} error={streamError} step={stepFilter} onStep={filterStep} />
        <Artifacts run={run} />
      </div>
    </>
  );
}
