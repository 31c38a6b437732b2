import { useId, useState, type FormEvent } from 'react';
import { ConsoleCreateProjectDocument, ConsoleProjectsDocument, type RunStatus } from '../../../src/client/generated/graphql';
import { api, ApiError } from '../api';
import { Empty, ErrorBox, Loading, PageTitle } from '../components/common';
import { formatWhen, plural, RUN_STATUS_LABEL, RUN_STATUSES } from '../format';
import { useDocumentTitle, useQuery } from '../hooks';
import { Link } from '../router';

function CreateProject({ onCreated, open }: { onCreated: () => void; open: boolean }) {
  const ids = useId();
  const [name, setName] = useState('');
  const [localPath, setLocalPath] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await api.request(ConsoleCreateProjectDocument, { name: name.trim(), localPath: localPath.trim() });
      setName('');
      setLocalPath('');
      onCreated();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(String(caught)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="card create-project" open={open}>
      <summary>
        <h2>Create a project</h2>
      </summary>
      <form className="form" onSubmit={submit}>
        <div className="field">
          <label className="label" htmlFor={`${ids}-name`}>
            Name
          </label>
          <input id={`${ids}-name`} name="name" value={name} onChange={(e) => setName(e.target.value)} required placeholder="greeting-service" autoComplete="off" />
        </div>
        <div className="field">
          <label className="label" htmlFor={`${ids}-path`}>
            Folder on the server (absolute path)
          </label>
          <input
            id={`${ids}-path`}
            name="localPath"
            value={localPath}
            onChange={(e) => setLocalPath(e.target.value)}
            required
            placeholder="/home/me/projects/greeting-service"
            aria-describedby={`${ids}-hint`}
            spellCheck={false}
            autoComplete="off"
          />
          <span className="hint" id={`${ids}-hint`}>
            Where runs write files and run commands; a missing folder is created.
          </span>
        </div>
        {error ? <ErrorBox error={error} title="The project was not created" /> : null}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create project'}
          </button>
        </div>
      </form>
    </details>
  );
}

export function ProjectsPage() {
  useDocumentTitle('Projects');
  const projects = useQuery(ConsoleProjectsDocument, {});
  const list = projects.data?.projects ?? [];
  return (
    <>
      <PageTitle
        actions={
          <Link to="/runs/new" className="button button-primary">
            New run
          </Link>
        }
      >
        Projects
      </PageTitle>
      <p className="lead">A project is a folder on the server where runs write their files and run their commands.</p>
      {projects.error && !projects.data ? <ErrorBox error={projects.error} title="Could not load the projects" onRetry={projects.refetch} /> : null}
      {!projects.data && !projects.error ? <Loading what="projects" /> : null}
      {projects.data && list.length === 0 ? (
        <Empty title="No projects yet — create one below, or start a run and create its project there.">
          <Link to="/runs/new" className="button button-primary">
            Start a run
          </Link>
        </Empty>
      ) : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="responsive-table">
            <caption className="sr-only">Projects, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col">Folder</th>
                <th scope="col">Runs</th>
                <th scope="col">Latest run</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((project) => {
                const counts = new Map<RunStatus, number>();
                for (const run of project.runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);
                const latest = project.runs[0];
                const total = project.runs.length;
                return (
                  <tr key={project.id} data-project={project.name}>
                    <td data-label="Project">
                      <strong>{project.name}</strong>
                    </td>
                    <td data-label="Folder">
                      <code className="path">{project.localPath}</code>
                    </td>
                    <td data-label="Runs">
                      {total === 0 ? (
                        'none yet'
                      ) : (
                        <Link to={`/?project=${project.id}`}>
                          {total >= 500 ? '500+ runs' : plural(total, 'run')}
                        </Link>
                      )}
                      {total > 0 ? (
                        <span className="muted counts">
                          {' '}
                          ({RUN_STATUSES.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${RUN_STATUS_LABEL[s].text.toLowerCase()}`).join(', ')})
                        </span>
                      ) : null}
                    </td>
                    <td data-label="Latest run">{latest ? <Link to={`/runs/${latest.id}`}>#{latest.id}, {formatWhen(latest.createdAt)}</Link> : '—'}</td>
                    <td data-label="">
                      <Link to={`/runs/new?project=${project.id}`} className="button button-small">
                        New run here
                      </Link>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {projects.data ? <CreateProject onCreated={() => void projects.refetch()} open={list.length === 0} /> : null}
    </>
  );
}
