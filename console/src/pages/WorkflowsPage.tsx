import { useState } from 'react';
import {
  ConsoleWorkflowFlowDocument,
  ConsoleWorkflowsDocument,
  type ConsoleLoadProblemFragment,
  type ConsoleWorkflowFlowFragment,
  type ConsoleWorkflowFragment,
} from '../../../src/client/generated/graphql';
import { Empty, ErrorBox, Loading, NumberedLines, PageTitle } from '../components/common';
import {
  formatDateTime,
  formatValue,
  formatWhen,
  INPUT_TYPE_LABEL,
  LOAD_PROBLEM_KIND_LABEL,
  MODEL_SOURCE_LABEL,
  plural,
  problemLocation,
  shortHash,
  WORKFLOW_ORIGIN_LABEL,
} from '../format';
import { useDocumentTitle, useQuery, useRefetchOnReturn } from '../hooks';
import { Link } from '../router';

type WorkflowVersion = ConsoleWorkflowFragment;
type WorkflowFlow = ConsoleWorkflowFlowFragment;
type WorkflowWithVersions = ConsoleWorkflowFragment & WorkflowFlow & { versions: WorkflowVersion[] };

/** The flow (needs, conditions, loops) of the version shown: the list carries the latest's, an older one's is asked for. */
function useFlow(workflow: WorkflowWithVersions, shown: WorkflowVersion): WorkflowFlow | null {
  const older = shown.version !== workflow.version;
  const query = useQuery(ConsoleWorkflowFlowDocument, { name: workflow.name, version: shown.version }, { skip: !older });
  return older ? (query.data?.workflow ?? null) : workflow;
}

export function WorkflowsPage() {
  useDocumentTitle('Workflows');
  const workflows = useQuery(ConsoleWorkflowsDocument, {});
  useRefetchOnReturn(workflows.refetch);
  const list = workflows.data?.workflows ?? [];
  const problems = workflows.data?.loadProblems ?? [];
  return (
    <>
      <PageTitle>Workflows</PageTitle>
      <p className="lead">
        The step sequences this server can run: the built-in ones, the definition files of its <code>WORKFLOWS_DIR</code> (read at start) and those registered with{' '}
        <code>registerWorkflow</code>. A registered version never changes, and a run keeps the version it was created with.
      </p>
      {workflows.error && !workflows.data ? <ErrorBox error={workflows.error} title="Could not load the workflows" onRetry={workflows.refetch} /> : null}
      {!workflows.data && !workflows.error ? <Loading what="workflows" /> : null}
      {problems.length > 0 ? <LoadProblems problems={problems} /> : null}
      {workflows.data && list.length === 0 ? <Empty title="This server offers no workflows." /> : null}
      {list.map((workflow) => (
        <WorkflowCard key={workflow.name} workflow={workflow} />
      ))}
    </>
  );
}

/** The files the server could not load at start, each problem with where it is. */
function LoadProblems({ problems }: { problems: ConsoleLoadProblemFragment[] }) {
  return (
    <section className="alert alert-error load-problems" aria-labelledby="load-problems-title" data-testid="load-problems">
      <h2 id="load-problems-title">{plural(problems.length, 'file')} did not load</h2>
      <p>
        The server started without {problems.length === 1 ? 'it' : 'them'}; everything else works. Fix the file and restart the server (or register the fixed definition with{' '}
        <code>registerWorkflow</code>).
      </p>
      <ul className="problem-files">
        {problems.map((file) => (
          <li key={file.file} data-problem-file={file.file}>
            <code className="path">{file.file}</code> <span className="tag">{LOAD_PROBLEM_KIND_LABEL[file.kind]}</span>
            <ul className="problems">
              {file.problems.map((problem, i) => (
                <li key={i}>
                  {problemLocation(problem) ? <span className="problem-location">{problemLocation(problem)}</span> : null}{' '}
                  <span className="problem-message">{problem.message}</span>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}

function originText(version: WorkflowVersion): string {
  return version.origin === 'FILE' && version.originPath ? `file ${version.originPath}` : WORKFLOW_ORIGIN_LABEL[version.origin];
}

function WorkflowCard({ workflow }: { workflow: WorkflowWithVersions }) {
  const [chosen, setChosen] = useState(workflow.version);
  const shown = workflow.versions.find((v) => v.version === chosen) ?? workflow;
  const id = `wf-${workflow.name}`;
  const startLink = `/runs/new?workflow=${encodeURIComponent(workflow.name)}${shown.latest ? '' : `&version=${encodeURIComponent(shown.version)}`}`;
  const flow = useFlow(workflow, shown);
  return (
    <section className="card workflow" aria-labelledby={id} data-workflow={workflow.name}>
      <div className="section-head">
        <h2 id={id}>
          {workflow.name} <span className="muted">v{shown.version}</span> {shown.latest ? <span className="tag tag-latest">latest</span> : <span className="tag">older version</span>}
        </h2>
        <Link to={startLink} className="button button-primary button-small">
          Start a run with {shown.latest ? 'it' : `v${shown.version}`}
        </Link>
      </div>
      <p>{shown.description}</p>

      <h3 className="subhead">{plural(workflow.versions.length, 'version')}</h3>
      <div className="table-wrap">
        <table className="responsive-table versions-table">
          <caption className="sr-only">Versions of {workflow.name}, latest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">From</th>
              <th scope="col">Registered</th>
              <th scope="col">Content hash</th>
              <th scope="col">
                <span className="sr-only">Show</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {workflow.versions.map((version) => (
              <tr key={version.version} data-version={version.version} aria-current={version.version === shown.version ? 'true' : undefined}>
                <td data-label="Version">
                  <code>{version.version}</code> {version.latest ? <span className="tag tag-latest">latest</span> : null}
                </td>
                <td data-label="From" className="origin">
                  {originText(version)}
                </td>
                <td data-label="Registered" title={formatDateTime(version.registeredAt)}>
                  {formatWhen(version.registeredAt)}
                </td>
                <td data-label="Content hash">
                  <code title={version.contentHash}>{shortHash(version.contentHash)}</code>
                </td>
                <td data-label="">
                  {version.version === shown.version ? (
                    <span className="muted">shown below</span>
                  ) : (
                    <button type="button" className="button button-small" onClick={() => setChosen(version.version)}>
                      Show v{version.version}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Inputs workflow={shown} />
      <Steps workflow={shown} flow={flow} />

      <details className="definition" data-testid="definition">
        <summary>
          <h3 className="subhead">Definition of v{shown.version}</h3>{' '}
          <span className="muted">
            {shown.source.trimStart().startsWith('{') ? 'JSON' : 'YAML'}, {plural(shown.source.split('\n').length, 'line')} · {originText(shown)}
          </span>
        </summary>
        <NumberedLines text={shown.source} label={`Definition of ${shown.name} version ${shown.version}`} testId="definition-source" />
      </details>
      <p className="muted">LLM timeout for new runs: {shown.defaultTimeoutSeconds} s unless a run sets its own.</p>
    </section>
  );
}

function Inputs({ workflow }: { workflow: WorkflowVersion }) {
  if (workflow.inputs.length === 0) {
    return (
      <>
        <h3 className="subhead">Inputs</h3>
        <p className="muted">None: a run gives only its goal.</p>
      </>
    );
  }
  return (
    <>
      <h3 className="subhead">Inputs</h3>
      <div className="table-wrap">
        <table className="responsive-table inputs-table">
          <caption className="sr-only">Inputs of {workflow.name} version {workflow.version}</caption>
          <thead>
            <tr>
              <th scope="col">Input</th>
              <th scope="col">Type</th>
              <th scope="col">Default</th>
              <th scope="col">Required</th>
              <th scope="col">What it is for</th>
            </tr>
          </thead>
          <tbody>
            {workflow.inputs.map((input) => (
              <tr key={input.name} data-input={input.name}>
                <td data-label="Input">
                  <code>{input.name}</code>
                </td>
                <td data-label="Type">
                  {INPUT_TYPE_LABEL[input.type]}
                  {input.options ? (
                    <span className="options">
                      {': '}
                      {input.options.map((option, i) => (
                        <span key={option}>
                          {i > 0 ? ', ' : ''}
                          <code>{option}</code>
                        </span>
                      ))}
                    </span>
                  ) : null}
                </td>
                <td data-label="Default">{input.default == null ? <span className="muted">none</span> : <code>{formatValue(input.default)}</code>}</td>
                <td data-label="Required">{input.required ? (input.default == null ? 'yes' : 'yes (has a default)') : 'no'}</td>
                <td data-label="What it is for">{input.description ?? <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** How many steps run at once and what a failure does to the others. */
function Limits({ flow }: { flow: WorkflowFlow }) {
  return (
    <p className="muted" data-testid="workflow-limits">
      {flow.maxParallel ? `At most ${plural(flow.maxParallel, 'step')} at once` : 'As many steps at once as their needs allow (up to the server’s MAX_PARALLEL_STEPS)'}
      {' · '}
      {flow.failFast ? 'a failed step stops the steps running beside it (failFast)' : 'a failed step lets the steps running beside it finish'}
    </p>
  );
}

function NeedsCell({ needs }: { needs: readonly string[] | undefined }) {
  if (!needs) return <span className="muted">…</span>;
  return needs.length === 0 ? <>—</> : <>{needs.join(', ')}</>;
}

function ConditionCell({ condition }: { condition: string | null | undefined }) {
  return condition ? <code>{condition}</code> : <>—</>;
}

type FlowStep = WorkflowFlow['steps'][number];

/** A loop's rule and the steps of one iteration, with their needs and conditions. */
function LoopSteps({ step }: { step: FlowStep }) {
  const inner = step.steps ?? [];
  return (
    <div className="loop-definition">
      <p className="loop-rule">
        Repeats until <code>{step.until}</code>, at most{' '}
        {typeof step.maxIterations === 'number' ? plural(step.maxIterations, 'iteration') : <><code>{String(step.maxIterations)}</code> iterations</>}
      </p>
      <ol className="loop-inner" aria-label={`Steps of each iteration of ${step.name}`}>
        {inner.map((innerStep) => (
          <li key={innerStep.name} data-step={innerStep.name}>
            <code>{innerStep.name}</code> <span className="tag">{innerStep.typeName}</span> {innerStep.description.replaceAll('{model}', innerStep.modelInForce?.model ?? innerStep.model ?? 'its model')}
            {innerStep.command && !innerStep.description.includes(innerStep.command) ? (
              <>
                {' '}
                <code className="command">{innerStep.command}</code>
              </>
            ) : null}
            {innerStep.needs.length > 0 ? <span className="muted"> · after {innerStep.needs.join(', ')}</span> : null}
            {innerStep.if ? (
              <span className="muted">
                {' '}
                · if <code>{innerStep.if}</code>
              </span>
            ) : null}
          </li>
        ))}
      </ol>
    </div>
  );
}

function Steps({ workflow, flow }: { workflow: WorkflowVersion; flow: WorkflowFlow | null }) {
  const flowOf = new Map((flow?.steps ?? []).map((step) => [step.name, step]));
  return (
    <>
      <h3 className="subhead">Steps</h3>
      {flow ? <Limits flow={flow} /> : null}
      <div className="table-wrap">
        <table className="responsive-table steps-table">
          <caption className="sr-only">
            Steps of {workflow.name} version {workflow.version}
          </caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Step</th>
              <th scope="col">Type</th>
              <th scope="col">Needs</th>
              <th scope="col">Condition</th>
              <th scope="col">What it does</th>
              <th scope="col">Model or command</th>
              <th scope="col">Writes</th>
            </tr>
          </thead>
          <tbody>
            {workflow.steps.map((step, index) => {
              const stepFlow = flowOf.get(step.name);
              return (
                <tr key={step.name} data-step={step.name}>
                  <td data-label="#">{index + 1}</td>
                  <td data-label="Step">
                    <code>{step.name}</code>
                  </td>
                  <td data-label="Type">
                    <code>{step.typeName}</code>
                    {step.type === 'CUSTOM' ? <span className="muted"> (custom)</span> : null}
                  </td>
                  <td data-label="Needs">
                    <NeedsCell needs={stepFlow?.needs} />
                  </td>
                  <td data-label="Condition">
                    <ConditionCell condition={stepFlow?.if} />
                  </td>
                  <td data-label="What it does">
                    {step.description.replaceAll('{model}', step.modelInForce?.model ?? step.model ?? 'its model')}
                    {step.retry ? (
                      <span className="muted">
                        {' '}
                        · retried up to {step.retry.maxAttempts} attempts ({step.retry.backoffSeconds} s, ×{step.retry.backoffFactor})
                      </span>
                    ) : null}
                    {step.timeoutSeconds ? <span className="muted"> · timeout {step.timeoutSeconds} s</span> : null}
                    {step.type === 'LOOP' && stepFlow ? <LoopSteps step={stepFlow} /> : null}
                  </td>
                  <td data-label="Model or command">
                    {step.command ? <code className="command">{step.command}</code> : null}
                    {step.model ? (
                      <>
                        default <code>{step.model}</code>
                        {step.modelInForce && step.modelInForce.model !== step.model ? (
                          <span className="muted">
                            {' '}
                            · in force: <code>{step.modelInForce.model}</code> ({MODEL_SOURCE_LABEL[step.modelInForce.source]})
                          </span>
                        ) : null}
                      </>
                    ) : null}
                    {!step.command && !step.model ? '—' : null}
                  </td>
                  <td data-label="Writes">
                    {step.outputFile ? <code>{step.outputFile}</code> : '—'}
                    {step.outputFile && !step.saveArtifact ? <span className="muted"> (not kept as an artifact)</span> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
