import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import {
  ConsoleAgentDefaultsDocument,
  ConsoleCreateProjectDocument,
  ConsoleCreateRunDocument,
  ConsoleProjectsDocument,
  ConsoleWorkflowsDocument,
  type AgentThink,
  type ConsoleWorkflowFragment,
  type CreateRunInput,
  type RunType,
} from '../../../src/client/generated/graphql';
import { api, ApiError } from '../api';
import { ErrorBox, Loading, PageTitle } from '../components/common';
import { InputFields, inputFieldId, inputsToSend, type InputValues } from '../components/InputFields';
import { MODEL_SOURCE_LABEL, plural, STEP_TYPE_LABEL } from '../format';
import { useDocumentTitle, useQuery } from '../hooks';
import { Link, navigate, useLocation } from '../router';

const NEW_PROJECT = '__new__';
const DEFAULT_WORKFLOW = 'quarkus-bootstrap-v1';

type Models = Record<string, string>;

type AgentLimitField = 'maxIterations' | 'timeoutSeconds' | 'tokenBudget' | 'numCtx';

/** The agent's limits the form offers (options.agent), with their labels. */
const AGENT_LIMIT_FIELDS: Array<{ name: AgentLimitField; label: string; hint: string }> = [
  { name: 'maxIterations', label: 'Model calls at most', hint: 'The agent ends, failed, when it has made this many without finishing.' },
  { name: 'timeoutSeconds', label: 'Total time in seconds', hint: 'For the whole agent, every model call and command included.' },
  { name: 'tokenBudget', label: 'Token budget', hint: 'Prompt plus output tokens over all model calls.' },
  { name: 'numCtx', label: 'Context window in tokens', hint: 'Sent to Ollama as num_ctx; larger needs more memory.' },
];

/** The model each step that calls a model (loops' steps included) gets unless the run chooses another. */
function modelsInForce(workflow: ConsoleWorkflowFragment | undefined): Models {
  const models: Models = {};
  for (const m of workflow?.models ?? []) models[m.step] = m.model;
  return models;
}

/** The definition's own default model of a step, at the top level or inside a loop. */
function definitionModel(workflow: ConsoleWorkflowFragment, step: string): string | null {
  for (const s of workflow.steps) {
    if (s.name === step) return s.model ?? null;
    const inner = s.steps?.find((i) => i.name === step);
    if (inner) return inner.model ?? null;
  }
  return null;
}

function isAbsolutePath(value: string): boolean {
  return value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value);
}

/** A sibling folder of the existing projects' folders, for a new project's name. */
function suggestFolder(existing: string[], name: string): string {
  const last = existing.at(-1);
  const slug = name.trim().replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '');
  if (!last || !slug) return '';
  return `${last.replace(/[\\/][^\\/]*$/, '')}/${slug}`;
}

export function NewRunPage() {
  useDocumentTitle('New run');
  const { search } = useLocation();
  const projects = useQuery(ConsoleProjectsDocument, {});
  const workflows = useQuery(ConsoleWorkflowsDocument, {});
  const agentDefaults = useQuery(ConsoleAgentDefaultsDocument, {});
  const ids = useId();
  const [runType, setRunType] = useState<RunType>(search.get('type') === 'agent' ? 'AGENT' : 'WORKFLOW');
  const isAgent = runType === 'AGENT';
  const [agentModel, setAgentModel] = useState('');
  const [agentLimits, setAgentLimits] = useState<Record<AgentLimitField, string>>({ maxIterations: '', timeoutSeconds: '', tokenBudget: '', numCtx: '' });
  const [think, setThink] = useState<AgentThink | ''>('');
  const agentDefaultModel = agentDefaults.data?.agentDefaults.model;
  useEffect(() => {
    if (agentDefaultModel && !agentModel) setAgentModel(agentDefaultModel.model);
  }, [agentDefaultModel, agentModel]);

  const [projectChoice, setProjectChoice] = useState<string>('');
  const [projectName, setProjectName] = useState('');
  const [projectPath, setProjectPath] = useState('');
  const [pathEdited, setPathEdited] = useState(false);
  const [goal, setGoal] = useState('');
  const [runName, setRunName] = useState('');
  const [workflowName, setWorkflowName] = useState(search.get('workflow') ?? '');
  /** The chosen version; empty: the latest. */
  const [workflowVersion, setWorkflowVersion] = useState(search.get('version') ?? '');
  const [inputValues, setInputValues] = useState<InputValues>({});
  /** Number fields holding text the browser cannot read as a number. */
  const [unreadable, setUnreadable] = useState<ReadonlySet<string>>(new Set());
  /** Problems of the inputs, by input name (the server's, or an unreadable number). */
  const [inputErrors, setInputErrors] = useState<Record<string, string>>({});
  const [models, setModels] = useState<Models>({});
  const [timeout, setTimeoutValue] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  const projectList = projects.data?.projects ?? [];
  const workflowList = workflows.data?.workflows ?? [];
  const latest = useMemo(() => workflowList.find((w) => w.name === workflowName), [workflowList, workflowName]);
  // The version the form is for: its inputs and models are that version's.
  const workflow = useMemo(() => latest?.versions.find((v) => v.version === workflowVersion) ?? latest, [latest, workflowVersion]);
  const defaults = useMemo(() => modelsInForce(workflow), [workflow]);

  // First answers in: choose the project (from ?project=, else the newest, else a new one) and the workflow.
  useEffect(() => {
    if (!projects.data || projectChoice) return;
    const wanted = search.get('project');
    const list = projects.data.projects;
    setProjectChoice(wanted && list.some((p) => p.id === wanted) ? wanted : (list.at(-1)?.id ?? NEW_PROJECT));
  }, [projects.data, projectChoice, search]);
  useEffect(() => {
    if (!workflows.data || latest) return;
    const list = workflows.data.workflows;
    setWorkflowName((list.find((w) => w.name === DEFAULT_WORKFLOW) ?? list[0])?.name ?? '');
  }, [workflows.data, latest]);
  // A new workflow (not a reload of the same one) resets the models to its defaults.
  const defaultsKey = JSON.stringify(defaults);
  useEffect(() => setModels(JSON.parse(defaultsKey) as Models), [defaultsKey]);

  const creatingProject = projectChoice === NEW_PROJECT;
  const suggestedPath = suggestFolder(projectList.map((p) => p.localPath), projectName);
  const effectivePath = pathEdited ? projectPath : projectPath || suggestedPath;

  const validate = (): Record<string, string> => {
    const errors: Record<string, string> = {};
    if (creatingProject) {
      if (!projectName.trim()) errors.projectName = 'Give the new project a name.';
      if (!effectivePath.trim()) errors.projectPath = 'Give the folder where the run works, as an absolute path on the server, such as /home/me/projects/demo.';
      else if (!isAbsolutePath(effectivePath.trim())) errors.projectPath = 'The folder must be an absolute path on the server, such as /home/me/projects/demo.';
    }
    if (!goal.trim()) errors.goal = 'Say what the run should achieve.';
    if (!isAgent && !workflowName) errors.workflow = 'Choose a workflow.';
    if (isAgent && !agentModel.trim()) errors.agentModel = 'Give the model the agent uses (it must support tools).';
    if (isAgent) for (const field of AGENT_LIMIT_FIELDS) if (agentLimits[field.name].trim() && !/^\d+$/.test(agentLimits[field.name].trim())) errors[field.name] = 'A whole number, or empty for the server’s default.';
    if (timeout.trim() && !/^\d+$/.test(timeout.trim())) errors.timeout = 'A whole number of seconds, or empty for the server’s default.';
    if (!isAgent) for (const [step, model] of Object.entries(models)) if (!model.trim()) errors[`model-${step}`] = 'Give a model, or reset to the default.';
    return errors;
  };

  /** Whether the form has a problem to show: focuses the first field that has one. */
  const showProblems = (errors: Record<string, string>, problemsOfInputs: Record<string, string>): boolean => {
    setFieldErrors(errors);
    setInputErrors(problemsOfInputs);
    const first = Object.keys(errors)[0];
    const firstInput = workflow?.inputs.find((i) => problemsOfInputs[i.name])?.name;
    if (first) document.getElementById(`${ids}-${first}`)?.focus();
    else if (firstInput) document.getElementById(inputFieldId(ids, firstInput))?.focus();
    return first !== undefined || firstInput !== undefined;
  };

  const changeInput = (name: string, value: string | boolean, isUnreadable = false) => {
    setInputValues((values) => ({ ...values, [name]: value }));
    setUnreadable((set) => {
      const next = new Set(set);
      if (isUnreadable) next.add(name);
      else next.delete(name);
      return next;
    });
    // The problem shown described what was there before.
    setInputErrors(({ [name]: _gone, ...rest }) => rest);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const unreadableNumbers: Record<string, string> = {};
    for (const name of unreadable) if (workflow?.inputs.some((i) => i.name === name)) unreadableNumbers[name] = 'Not a number: write one such as 3 or 2.5.';
    if (showProblems(validate(), unreadableNumbers)) return;
    setSubmitting(true);
    try {
      let projectId = projectChoice;
      if (creatingProject) {
        const { createProject } = await api.request(ConsoleCreateProjectDocument, { name: projectName.trim(), localPath: effectivePath.trim() });
        projectId = createProject.id;
        await projects.refetch();
        setProjectChoice(projectId);
      }
      // Only models that differ from the default in force are sent: the others keep their source.
      const overrides = Object.entries(models)
        .filter(([step, model]) => model.trim() !== defaults[step])
        .map(([step, model]) => ({ step, model: model.trim() }));
      const limits = Object.fromEntries(AGENT_LIMIT_FIELDS.filter((f) => agentLimits[f.name].trim()).map((f) => [f.name, Number(agentLimits[f.name].trim())]));
      const agentOptions = { ...limits, ...(think ? { think } : {}) };
      const input: CreateRunInput = isAgent
        ? {
            projectId,
            goal: goal.trim(),
            runType: 'AGENT',
            ...(runName.trim() ? { name: runName.trim() } : {}),
            options: {
              ...(agentModel.trim() !== agentDefaultModel?.model ? { models: [{ step: 'agent', model: agentModel.trim() }] } : {}),
              ...(timeout.trim() ? { timeoutSeconds: Number(timeout.trim()) } : {}),
              ...(Object.keys(agentOptions).length ? { agent: agentOptions } : {}),
            },
          }
        : {
            projectId,
            goal: goal.trim(),
            ...(runName.trim() ? { name: runName.trim() } : {}),
            ...(workflow && workflow.inputs.length > 0 ? { inputs: inputsToSend(workflow.inputs, inputValues) } : {}),
            options: {
              workflowName,
              // The version whose form this is, even if a newer one was registered meanwhile.
              ...(workflow ? { workflowVersion: workflow.version } : {}),
              ...(overrides.length ? { models: overrides } : {}),
              ...(timeout.trim() ? { timeoutSeconds: Number(timeout.trim()) } : {}),
            },
          };
      const { createRun } = await api.request(ConsoleCreateRunDocument, { input });
      navigate(`/runs/${createRun.id}`);
    } catch (caught) {
      const apiError = caught instanceof ApiError ? caught : new ApiError(String(caught));
      // Problems of declared inputs go beside their fields; what is left is said above the button.
      const byInput: Record<string, string> = {};
      for (const problem of apiError.problems) {
        if (workflow?.inputs.some((i) => i.name === problem.field)) byInput[problem.field] = problem.message;
      }
      const placed = Object.keys(byInput).length;
      setError(placed > 0 && placed === apiError.problems.length ? new ApiError(`${plural(placed, 'input')} need${placed === 1 ? 's' : ''} a change: see the marked ${placed === 1 ? 'field' : 'fields'}.`, apiError.code) : apiError);
      showProblems({}, byInput);
    } finally {
      setSubmitting(false);
    }
  };

  const loadError = projects.error ?? workflows.error;
  if (loadError && (!projects.data || !workflows.data)) {
    return (
      <>
        <PageTitle>New run</PageTitle>
        <ErrorBox error={loadError} title="Could not load projects and workflows" onRetry={() => void Promise.all([projects.refetch(), workflows.refetch()])} />
      </>
    );
  }
  if (!projects.data || !workflows.data) {
    return (
      <>
        <PageTitle>New run</PageTitle>
        <Loading what="projects and workflows" />
      </>
    );
  }

  const fieldError = (name: string) =>
    fieldErrors[name] ? (
      <span className="field-error" id={`${ids}-${name}-error`}>
        {fieldErrors[name]}
      </span>
    ) : null;
  const describedBy = (name: string, hint?: boolean) =>
    [hint ? `${ids}-${name}-hint` : '', fieldErrors[name] ? `${ids}-${name}-error` : ''].filter(Boolean).join(' ') || undefined;

  return (
    <>
      <PageTitle>New run</PageTitle>
      <p className="lead">A run executes a workflow’s steps in a project’s folder: models write files there and commands run there. You watch it live on the next page.</p>
      <form className="form card" onSubmit={submit} noValidate aria-busy={submitting}>
        <fieldset>
          <legend>Project</legend>
          <div className="field">
            <label className="label sr-only" htmlFor={`${ids}-project`}>
              Project
            </label>
            <select id={`${ids}-project`} value={projectChoice} onChange={(e) => setProjectChoice(e.target.value)} name="project">
              {projectList.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} — {p.localPath}
                </option>
              ))}
              <option value={NEW_PROJECT}>+ Create a new project…</option>
            </select>
          </div>
          {creatingProject ? (
            <div className="subfields">
              {projectList.length === 0 ? <p className="hint">No projects yet: this run creates the first one.</p> : null}
              <div className="field">
                <label className="label" htmlFor={`${ids}-projectName`}>
                  New project’s name
                </label>
                <input
                  id={`${ids}-projectName`}
                  name="projectName"
                  value={projectName}
                  onChange={(e) => setProjectName(e.target.value)}
                  placeholder="greeting-service"
                  aria-invalid={Boolean(fieldErrors.projectName)}
                  aria-describedby={describedBy('projectName')}
                  autoComplete="off"
                />
                {fieldError('projectName')}
              </div>
              <div className="field">
                <label className="label" htmlFor={`${ids}-projectPath`}>
                  Folder on the server (absolute path)
                </label>
                <input
                  id={`${ids}-projectPath`}
                  name="projectPath"
                  value={effectivePath}
                  onChange={(e) => {
                    setProjectPath(e.target.value);
                    setPathEdited(true);
                  }}
                  placeholder="/home/me/projects/greeting-service"
                  aria-invalid={Boolean(fieldErrors.projectPath)}
                  aria-describedby={describedBy('projectPath', true)}
                  autoComplete="off"
                  spellCheck={false}
                />
                <span className="hint" id={`${ids}-projectPath-hint`}>
                  Where the run writes its files and runs its commands. A missing folder is created.
                </span>
                {fieldError('projectPath')}
              </div>
            </div>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>What to do</legend>
          <div className="field">
            <label className="label" htmlFor={`${ids}-runType`}>
              Kind of run
            </label>
            <select id={`${ids}-runType`} name="runType" value={runType} onChange={(e) => setRunType(e.target.value as RunType)} aria-describedby={`${ids}-runType-hint`}>
              <option value="WORKFLOW">Workflow: a fixed sequence of steps</option>
              <option value="AGENT">Agent: a model works with tools until the task is done</option>
            </select>
            <span className="hint" id={`${ids}-runType-hint`}>
              {isAgent ? 'The agent lists, reads, writes and searches files and runs commands in the project’s folder, and you can steer it while it works.' : 'The steps of the workflow you choose below.'}
            </span>
          </div>
          <div className="field">
            <label className="label" htmlFor={`${ids}-goal`}>
              Goal
            </label>
            <textarea
              id={`${ids}-goal`}
              name="goal"
              rows={3}
              value={goal}
              onChange={(e) => setGoal(e.target.value)}
              placeholder="Generate a Quarkus GraphQL + OpenTelemetry project"
              aria-invalid={Boolean(fieldErrors.goal)}
              aria-describedby={describedBy('goal', true)}
            />
            <span className="hint" id={`${ids}-goal-hint`}>
              {isAgent ? 'The agent’s task. You can steer it with directives while it works.' : 'Given to the workflow’s prompts.'}
            </span>
            {fieldError('goal')}
          </div>
          <div className="field">
            <label className="label" htmlFor={`${ids}-runName`}>
              Label <span className="muted">(optional)</span>
            </label>
            <input id={`${ids}-runName`} name="runName" value={runName} onChange={(e) => setRunName(e.target.value)} autoComplete="off" />
          </div>
          {isAgent ? null : (
          <div className="field">
            <label className="label" htmlFor={`${ids}-workflow`}>
              Workflow
            </label>
            <select
              id={`${ids}-workflow`}
              name="workflow"
              value={workflowName}
              onChange={(e) => {
                setWorkflowName(e.target.value);
                setWorkflowVersion('');
              }}
              aria-describedby={`${ids}-workflow-hint`}
            >
              {workflowList.map((w) => (
                <option key={w.name} value={w.name}>
                  {w.name}
                </option>
              ))}
            </select>
            {workflow ? (
              <span className="hint" id={`${ids}-workflow-hint`}>
                {workflow.description} Steps: {workflow.steps.map((s) => `${s.name} (${s.type === 'CUSTOM' ? s.typeName : STEP_TYPE_LABEL[s.type]})`).join(' → ')}.{' '}
                <Link to="/workflows">Details</Link>
              </span>
            ) : null}
            {fieldError('workflow')}
          </div>
          )}
          {!isAgent && latest && workflow ? (
            <div className="field">
              <label className="label" htmlFor={`${ids}-version`}>
                Version
              </label>
              <select
                id={`${ids}-version`}
                name="version"
                className="input-short"
                value={workflow.version}
                onChange={(e) => setWorkflowVersion(e.target.value === latest.version ? '' : e.target.value)}
                aria-describedby={`${ids}-version-hint`}
              >
                {latest.versions.map((v) => (
                  <option key={v.version} value={v.version}>
                    {v.version}
                    {v.latest ? ' (latest)' : ''}
                  </option>
                ))}
              </select>
              <span className="hint" id={`${ids}-version-hint`}>
                The run keeps this version whatever is registered later. <Link to="/workflows">See each version’s definition</Link>
              </span>
            </div>
          ) : null}
        </fieldset>

        {!isAgent && workflow && workflow.inputs.length > 0 ? (
          <fieldset data-testid="workflow-inputs">
            <legend>
              Inputs of {workflow.name} <span className="muted">v{workflow.version}</span>
            </legend>
            <InputFields inputs={workflow.inputs} values={inputValues} errors={inputErrors} idPrefix={ids} onChange={changeInput} />
          </fieldset>
        ) : null}

        {isAgent ? (
          <fieldset>
            <legend>Agent</legend>
            <div className="field">
              <label className="label" htmlFor={`${ids}-agentModel`}>
                Model for <code>agent</code>
              </label>
              <input
                id={`${ids}-agentModel`}
                name="agentModel"
                value={agentModel}
                onChange={(e) => setAgentModel(e.target.value)}
                aria-describedby={describedBy('agentModel', true)}
                aria-invalid={Boolean(fieldErrors.agentModel)}
                spellCheck={false}
                autoComplete="off"
              />
              <span className="hint" id={`${ids}-agentModel-hint`}>
                {agentDefaultModel
                  ? agentModel.trim() === agentDefaultModel.model
                    ? `${agentDefaultModel.source === 'ENVIRONMENT' ? 'From the server’s OLLAMA_AGENT_MODEL' : 'The default'}. It must support tools (ollama show ${agentDefaultModel.model} lists its capabilities).`
                    : `Your choice for this run (default: ${agentDefaultModel.model}, ${MODEL_SOURCE_LABEL[agentDefaultModel.source]}). It must support tools.`
                  : 'The model must support tools.'}
              </span>
              {fieldError('agentModel')}
            </div>
            {AGENT_LIMIT_FIELDS.map((field) => (
              <div className="field" key={field.name}>
                <label className="label" htmlFor={`${ids}-${field.name}`}>
                  {field.label} <span className="muted">(optional)</span>
                </label>
                <input
                  id={`${ids}-${field.name}`}
                  name={field.name}
                  inputMode="numeric"
                  className="input-short"
                  value={agentLimits[field.name]}
                  onChange={(e) => setAgentLimits((l) => ({ ...l, [field.name]: e.target.value }))}
                  placeholder={String(agentDefaults.data?.agentDefaults[field.name] ?? '')}
                  aria-describedby={describedBy(field.name, true)}
                  aria-invalid={Boolean(fieldErrors[field.name])}
                />
                <span className="hint" id={`${ids}-${field.name}-hint`}>
                  {field.hint} Empty: the server’s default, {agentDefaults.data?.agentDefaults[field.name] ?? '…'}.
                </span>
                {fieldError(field.name)}
              </div>
            ))}
            <div className="field">
              <label className="label" htmlFor={`${ids}-think`}>
                Reasoning
              </label>
              <select id={`${ids}-think`} name="think" value={think} onChange={(e) => setThink(e.target.value as AgentThink | '')}>
                <option value="">The model’s default (on when it can think)</option>
                <option value="ON">On</option>
                <option value="OFF">Off</option>
                <option value="LOW">Low</option>
                <option value="MEDIUM">Medium</option>
                <option value="HIGH">High</option>
              </select>
            </div>
          </fieldset>
        ) : null}

        {!isAgent && workflow && workflow.models.length > 0 ? (
          <fieldset>
            <legend>Models</legend>
            {workflow.models.map((inForce) => {
              // Every step that calls a model, loops' steps included (Workflow.models).
              const step = { name: inForce.step };
              const value = models[step.name] ?? '';
              const changed = value.trim() !== inForce.model;
              const name = `model-${step.name}`;
              return (
                <div className="field" key={step.name}>
                  <label className="label" htmlFor={`${ids}-${name}`}>
                    Model for <code>{step.name}</code>
                  </label>
                  <span className="input-row">
                    <input
                      id={`${ids}-${name}`}
                      name={name}
                      value={value}
                      onChange={(e) => setModels((m) => ({ ...m, [step.name]: e.target.value }))}
                      aria-describedby={describedBy(name, true)}
                      aria-invalid={Boolean(fieldErrors[name])}
                      spellCheck={false}
                      autoComplete="off"
                    />
                    {changed ? (
                      <button type="button" className="button button-small" onClick={() => setModels((m) => ({ ...m, [step.name]: inForce.model }))}>
                        Reset
                      </button>
                    ) : null}
                  </span>
                  <span className="hint" id={`${ids}-${name}-hint`} data-model-source={changed ? 'RUN_OPTIONS' : inForce.source}>
                    {changed
                      ? `Your choice for this run (default: ${inForce.model}, ${MODEL_SOURCE_LABEL[inForce.source]}).`
                      : inForce.source === 'ENVIRONMENT'
                        ? `From the server’s OLLAMA_${step.name.toUpperCase()}_MODEL (the workflow’s default is ${definitionModel(workflow, step.name) ?? 'not set'}).`
                        : `The workflow’s default. The model must be installed in Ollama (ollama pull ${inForce.model}).`}
                  </span>
                  {fieldError(name)}
                </div>
              );
            })}
          </fieldset>
        ) : null}

        <fieldset>
          <legend>Limits</legend>
          <div className="field">
            <label className="label" htmlFor={`${ids}-timeout`}>
              LLM timeout in seconds <span className="muted">(optional)</span>
            </label>
            <input
              id={`${ids}-timeout`}
              name="timeout"
              inputMode="numeric"
              value={timeout}
              onChange={(e) => setTimeoutValue(e.target.value)}
              placeholder={workflow ? String(workflow.defaultTimeoutSeconds) : ''}
              aria-invalid={Boolean(fieldErrors.timeout)}
              aria-describedby={describedBy('timeout', true)}
              className="input-short"
            />
            <span className="hint" id={`${ids}-timeout-hint`}>
              How long each LLM step may take. Empty: the server’s default, {workflow?.defaultTimeoutSeconds ?? 300} s (OLLAMA_TIMEOUT_SECONDS). Large models loading for the first time can
              need more.
            </span>
            {fieldError('timeout')}
          </div>
        </fieldset>

        {error ? <ErrorBox error={error} title="The run was not created" /> : null}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={submitting}>
            {submitting ? 'Starting…' : 'Start run'}
          </button>
          <Link to="/" className="button button-link">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}
