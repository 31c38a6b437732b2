/**
 * A run's steps as its graph: columns by depth, left to right (the steps of one column can run at
 * the same time, up to the workflow's maxParallel), each step with what it waits for, its condition,
 * where it stands (pending, running for how long, done in how long, failed and why, skipped and
 * why), and a loop with its iterations. A step's name filters the timeline to its events. The graph
 * scrolls sideways inside its own box when it is wider than the page.
 */
import { useLayoutEffect, useRef, useState, type RefObject } from 'react';
import type { ConsoleRunQuery, StepStatus } from '../../../src/client/generated/graphql';
import { columnsByDepth, loopView, type LoopView } from '../flow';
import { formatDuration, plural, STEP_TYPE_LABEL } from '../format';
import type { TimelineEvent } from '../timeline';
import { StepBadge } from './common';

type FullRun = NonNullable<ConsoleRunQuery['run']>;
type StepRecord = FullRun['steps'][number];
type FlowStep = NonNullable<FullRun['workflow']>['steps'][number];

/** "running for 3.2 s", "took 1.0 s", "failed after 2.0 s", or ''. */
function timing(step: StepRecord, now: number): string {
  if (step.status === 'RUNNING' && step.startedAt) return `running for ${formatDuration(Math.max(0, now - Date.parse(step.startedAt)))}`;
  if (!step.startedAt || !step.finishedAt) return '';
  const took = formatDuration(Math.max(0, Date.parse(step.finishedAt) - Date.parse(step.startedAt)));
  if (step.status === 'FAILED') return `failed after ${took}`;
  if (step.status === 'STOPPED') return `stopped after ${took}`;
  return `took ${took}`;
}

/** What a step's record says beyond its badge: timing, attempts, why it failed or was skipped. */
function StepFacts({ step, now }: { step: StepRecord; now: number }) {
  const time = timing(step, now);
  return (
    <>
      {time || step.attempt > 1 ? (
        <p className="step-meta">
          {time}
          {step.attempt > 1 ? `${time ? ' · ' : ''}attempt ${step.attempt} (retried)` : ''}
        </p>
      ) : null}
      {step.status === 'SKIPPED' && step.skippedReason ? (
        <p className="step-skip-reason" data-testid="skipped-reason">
          Skipped: {step.skippedReason}
        </p>
      ) : null}
      {step.error && (step.status === 'FAILED' || step.status === 'STOPPED') ? <p className="step-error">{step.error}</p> : null}
      {step.error && step.status === 'PENDING' ? <p className="step-meta">{step.error}</p> : null}
    </>
  );
}

/** The step's name as a toggle: pressed, the timeline shows only its events. */
function FilterButton({ name, filter, onFilter }: { name: string; filter: string | null; onFilter: (step: string | null) => void }) {
  const pressed = filter === name;
  return (
    <button
      type="button"
      className="step-name"
      aria-pressed={pressed}
      title={pressed ? 'Show every event in the timeline again' : `Show only the events of ${name} in the timeline`}
      onClick={() => onFilter(pressed ? null : name)}
    >
      <span className="sr-only">Timeline of step </span>
      {name}
    </button>
  );
}

function Condition({ condition }: { condition: string | null | undefined }) {
  if (!condition) return null;
  return (
    <p className="step-condition">
      if <code>{condition}</code>
    </p>
  );
}

function Needs({ needs }: { needs: readonly string[] }) {
  if (needs.length === 0) return null;
  return (
    <p className="step-needs" data-testid="needs">
      <span aria-hidden="true">⤷ </span>after {needs.join(', ')}
    </p>
  );
}

const ENDED_STATUSES: StepStatus[] = ['COMPLETED', 'FAILED', 'SKIPPED', 'STOPPED'];

function iterationOutcome(iteration: LoopView<StepRecord>['iterations'][number], isLast: boolean, loop: LoopView<StepRecord>): string {
  if (iteration.untilHeld === true) return 'until held';
  if (iteration.untilHeld === false) return isLast && loop.ending.kind === 'ran-out' ? 'until did not hold · no iterations left' : 'until did not hold: next iteration';
  if (iteration.steps.some((s) => s.status === 'RUNNING')) return 'running';
  if (iteration.steps.every((s) => ENDED_STATUSES.includes(s.status)) && iteration.steps.length > 0) return isLast && loop.ending.kind === 'cut-off' ? 'cut off' : 'done';
  return 'waiting';
}

/** A loop's iterations, each with its steps (in columns by depth) and what `until` gave. */
function LoopIterations({ loop, view, flow, now, filter, onFilter }: { loop: StepRecord; view: LoopView<StepRecord>; flow: FlowStep | undefined; now: number; filter: string | null; onFilter: (step: string | null) => void }) {
  const max = view.maxIterations ?? (typeof flow?.maxIterations === 'number' ? flow.maxIterations : null);
  return (
    <div className="loop">
      <p className="loop-rule">
        until <code>{flow?.until ?? '…'}</code>
        {' · '}
        {max !== null ? `at most ${plural(max, 'iteration')}` : flow?.maxIterations ? <>at most <code>{String(flow.maxIterations)}</code> iterations</> : null}
      </p>
      {view.iterations.length === 0 ? (
        <p className="muted">
          No iteration yet{flow?.steps?.length ? `; each runs ${flow.steps.map((s) => s.name).join(', ')}` : ''}.
        </p>
      ) : null}
      <ol className="iterations" aria-label={`Iterations of ${loop.name}`}>
        {view.iterations.map((iteration, i) => {
          const outcome = iterationOutcome(iteration, i === view.iterations.length - 1, view);
          return (
            <li key={iteration.iteration} className="iteration" data-iteration={iteration.iteration} aria-label={`Iteration ${iteration.iteration}${max !== null ? ` of ${max}` : ''}: ${outcome}`}>
              <p className="iteration-head">
                <strong>
                  Iteration {iteration.iteration}
                  {max !== null ? <span className="muted"> of {max}</span> : null}
                </strong>{' '}
                <span className={`iteration-outcome${iteration.untilHeld === true ? ' held' : ''}`} data-testid="iteration-outcome">
                  {outcome}
                </span>
              </p>
              <ol className="iteration-columns">
                {columnsByDepth(iteration.steps).map((column, c) => (
                  <li key={c} className="iteration-column">
                    <ol className="iteration-steps">
                      {column.map((step) => (
                        <li key={step.index} className={`loop-step step-item-${step.status.toLowerCase()}`} data-step={step.name} data-iteration={iteration.iteration}>
                          <div className="step-head">
                            <StepBadge status={step.status} />
                            <FilterButton name={step.name} filter={filter} onFilter={onFilter} />
                          </div>
                          <StepFacts step={step} now={now} />
                        </li>
                      ))}
                    </ol>
                  </li>
                ))}
              </ol>
            </li>
          );
        })}
      </ol>
      {view.ending.kind === 'until-held' ? (
        <p className="loop-ending" data-testid="loop-ending">
          <span aria-hidden="true">✓ </span>until held after {plural(view.ending.iterations, 'iteration')}
        </p>
      ) : null}
      {view.ending.kind === 'ran-out' ? (
        <p className="loop-ending loop-ending-failed" data-testid="loop-ending">
          <span aria-hidden="true">✕ </span>iterations ran out: until never held in {plural(view.ending.iterations, 'iteration')}
        </p>
      ) : null}
      {view.ending.kind === 'cut-off' ? (
        <p className="loop-ending loop-ending-failed" data-testid="loop-ending">
          <span aria-hidden="true">✕ </span>ended in iteration {view.ending.iteration}
        </p>
      ) : null}
    </div>
  );
}

interface Edge {
  key: string;
  /** An SVG path from the need's card to the step's, in the columns' coordinates (px). */
  path: string;
  /** The need's status: the line is solid once it completed. */
  done: boolean;
}

/** Where a line leaves a card and enters the next: level with its head (cards differ in height). */
const EDGE_Y_PX = 18;

/**
 * Lines from each step's needs to it, drawn under the cards (decoration: every card also says
 * "after …" in words). Measured after each render that changes the steps, and again when a card or
 * the box changes size.
 */
function Edges({ box, steps }: { box: RefObject<HTMLOListElement | null>; steps: readonly StepRecord[] }) {
  const [drawing, setDrawing] = useState<{ edges: Edge[]; width: number; height: number }>({ edges: [], width: 0, height: 0 });
  const svg = useRef<SVGSVGElement>(null);
  const shape = steps.map((s) => `${s.name}:${s.status}:${s.needs.join(',')}`).join(';');
  useLayoutEffect(() => {
    const element = box.current;
    if (!element || !svg.current) return;
    const canvas = svg.current;
    const measure = () => {
      // The drawing lies under the columns, from the scroll box's corner: it scrolls with them.
      const origin = canvas.getBoundingClientRect();
      const cards = new Map<string, DOMRect>();
      for (const card of element.querySelectorAll<HTMLElement>(':scope > .graph-column > .graph-column-steps > .graph-step')) cards.set(card.dataset.step ?? '', card.getBoundingClientRect());
      const status = new Map(steps.map((s) => [s.name, s.status]));
      const edges: Edge[] = [];
      for (const step of steps) {
        const to = cards.get(step.name);
        for (const need of step.needs) {
          const from = cards.get(need);
          if (!from || !to) continue;
          const x1 = from.right - origin.left;
          const y1 = from.top - origin.top + EDGE_Y_PX;
          const x2 = to.left - origin.left - 2;
          const y2 = to.top - origin.top + EDGE_Y_PX;
          const bend = Math.max(12, (x2 - x1) / 2);
          edges.push({ key: `${need}>${step.name}`, path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, done: status.get(need) === 'COMPLETED' });
        }
      }
      const next = { edges, width: element.offsetLeft + element.scrollWidth, height: element.offsetTop + element.scrollHeight };
      setDrawing((previous) => (JSON.stringify(previous) === JSON.stringify(next) ? previous : next));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    for (const card of element.querySelectorAll('.graph-step')) observer.observe(card);
    return () => observer.disconnect();
    // `shape` stands for the steps: a new status or step may move the cards.
  }, [box, shape]);
  return (
    <svg ref={svg} className="graph-edges" width={drawing.width} height={drawing.height} aria-hidden="true" focusable="false">
      <defs>
        <marker id="graph-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L8,4 L0,8 z" />
        </marker>
      </defs>
      {drawing.edges.map((edge) => (
        <path key={edge.key} d={edge.path} className={edge.done ? 'graph-edge graph-edge-done' : 'graph-edge'} markerEnd="url(#graph-arrow)" data-edge={edge.key} />
      ))}
    </svg>
  );
}

/** The run's steps as columns by depth, live; `filter` is the step the timeline shows, if one. */
export function StepGraph({ run, events, now, filter, onFilter }: { run: FullRun; events: readonly TimelineEvent[]; now: number; filter: string | null; onFilter: (step: string | null) => void }) {
  const top = run.steps.filter((s) => s.loop === null);
  const columnsBox = useRef<HTMLOListElement>(null);
  const columns = columnsByDepth(top);
  const flowOf = new Map<string, FlowStep>();
  for (const step of run.workflow?.steps ?? []) {
    flowOf.set(step.name, step);
    for (const inner of step.steps ?? []) flowOf.set(inner.name, { ...inner, steps: null });
  }
  const done = top.filter((s) => s.status === 'COMPLETED').length;
  const limits = [run.workflow?.maxParallel ? `at most ${run.workflow.maxParallel} at once` : '', run.workflow?.failFast ? 'fail fast' : ''].filter(Boolean).join(' · ');

  return (
    <section className="card run-steps" aria-labelledby="steps-title">
      <div className="section-head">
        <h2 id="steps-title">Steps</h2>
        <span className="muted">
          {done} of {top.length} done
          {limits ? ` · ${limits}` : ''}
        </span>
      </div>
      <div className="graph-scroll" role="region" aria-label="Step graph" tabIndex={0}>
        <ol className="steps graph-columns" ref={columnsBox}>
          {columns.map((column, c) => (
            <li key={c} className="graph-column" data-depth={column[0]?.depth ?? c} aria-label={`Stage ${c + 1}: ${column.map((s) => s.name).join(', ')}`}>
              <p className="graph-column-head" aria-hidden="true">
                {c + 1}
                {column.length > 1 ? <span className="muted"> · {column.length} at once</span> : null}
              </p>
              <ol className="graph-column-steps">
                {column.map((step) => {
                  const flow = flowOf.get(step.name);
                  return (
                    <li
                      key={step.index}
                      className={`step graph-step step-item-${step.status.toLowerCase()}${step.type === 'LOOP' ? ' graph-step-loop' : ''}${filter === step.name ? ' step-filtered' : ''}`}
                      data-step={step.name}
                      data-depth={step.depth}
                      aria-current={step.status === 'RUNNING' ? 'step' : undefined}
                    >
                      <div className="step-head">
                        <StepBadge status={step.status} />
                        <FilterButton name={step.name} filter={filter} onFilter={onFilter} />
                        <span className="tag">{STEP_TYPE_LABEL[step.type]}</span>
                      </div>
                      <p className="step-description">{step.description}</p>
                      <Needs needs={step.needs} />
                      <Condition condition={flow?.if} />
                      <StepFacts step={step} now={now} />
                      {step.type === 'LOOP' ? (
                        <LoopIterations loop={step} view={loopView(step.name, step.status, run.steps, events)} flow={flow} now={now} filter={filter} onFilter={onFilter} />
                      ) : null}
                    </li>
                  );
                })}
              </ol>
            </li>
          ))}
        </ol>
        <Edges box={columnsBox} steps={top} />
      </div>
    </section>
  );
}
