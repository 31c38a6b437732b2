import { ConsoleWorkflowsDocument } from '../../../src/client/generated/graphql';
import { Empty, ErrorBox, Loading, PageTitle } from '../components/common';
import { MODEL_SOURCE_LABEL, STEP_TYPE_LABEL } from '../format';
import { useDocumentTitle, useQuery } from '../hooks';
import { Link } from '../router';

export function WorkflowsPage() {
  useDocumentTitle('Workflows');
  const workflows = useQuery(ConsoleWorkflowsDocument, {});
  const list = workflows.data?.workflows ?? [];
  return (
    <>
      <PageTitle>Workflows</PageTitle>
      <p className="lead">The step sequences this server can run. A run picks one; its LLM steps’ models can be changed per run.</p>
      {workflows.error && !workflows.data ? <ErrorBox error={workflows.error} title="Could not load the workflows" onRetry={workflows.refetch} /> : null}
      {!workflows.data && !workflows.error ? <Loading what="workflows" /> : null}
      {workflows.data && list.length === 0 ? <Empty title="This server offers no workflows." /> : null}
      {list.map((workflow) => (
        <section key={workflow.name} className="card workflow" aria-labelledby={`wf-${workflow.name}`} data-workflow={workflow.name}>
          <div className="section-head">
            <h2 id={`wf-${workflow.name}`}>
              {workflow.name} <span className="muted">v{workflow.version}</span>
            </h2>
            <Link to={`/runs/new?workflow=${encodeURIComponent(workflow.name)}`} className="button button-primary button-small">
              Start a run with it
            </Link>
          </div>
          <p>{workflow.description}</p>
          <div className="table-wrap">
            <table className="responsive-table">
              <caption className="sr-only">Steps of {workflow.name}</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Step</th>
                  <th scope="col">Kind</th>
                  <th scope="col">What it does</th>
                  <th scope="col">Model or command</th>
                  <th scope="col">Writes</th>
                </tr>
              </thead>
              <tbody>
                {workflow.steps.map((step, index) => (
                  <tr key={step.name}>
                    <td data-label="#">{index + 1}</td>
                    <td data-label="Step">
                      <code>{step.name}</code>
                    </td>
                    <td data-label="Kind">{STEP_TYPE_LABEL[step.type]}</td>
                    <td data-label="What it does">
                      {step.description.replaceAll('{model}', step.modelInForce?.model ?? step.model ?? 'its model')}
                      {step.retry ? (
                        <span className="muted">
                          {' '}
                          · retried up to {step.retry.maxAttempts} attempts ({step.retry.backoffSeconds} s, ×{step.retry.backoffFactor})
                        </span>
                      ) : null}
                      {step.timeoutSeconds ? <span className="muted"> · timeout {step.timeoutSeconds} s</span> : null}
                    </td>
                    <td data-label="Model or command">
                      {step.command ? <code>{step.command}</code> : null}
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
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted">LLM timeout for new runs: {workflow.defaultTimeoutSeconds} s unless a run sets its own.</p>
        </section>
      ))}
    </>
  );
}
