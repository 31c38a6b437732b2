import { useMemo } from 'react';
import { ConsoleArtifactContentDocument, ConsoleRunDocument, type ConsoleArtifactFragment } from '../../../src/client/generated/graphql';
import { Empty, ErrorBox, Loading, NumberedLines, PageTitle } from '../components/common';
import { DownloadLink } from '../components/DownloadLink';
import { ARTIFACT_KIND_LABEL, formatBytes, formatDateTime } from '../format';
import { useDocumentTitle, useQuery } from '../hooks';
import { Link } from '../router';

/** What the viewer loads of a file; past this, download it. */
const VIEW_BYTES = 1024 * 1024;

interface Folder {
  name: string;
  path: string;
  folders: Map<string, Folder>;
  files: ConsoleArtifactFragment[];
}

/** The run's files as the project folder's tree (a path written twice shows its latest artifact). */
export function buildTree(artifacts: readonly ConsoleArtifactFragment[]): Folder {
  const root: Folder = { name: '', path: '', folders: new Map(), files: [] };
  const latest = new Map<string, ConsoleArtifactFragment>();
  for (const artifact of artifacts) latest.set(artifact.path, artifact);
  for (const artifact of latest.values()) {
    const parts = artifact.path.split('/').filter(Boolean);
    let folder = root;
    for (const part of parts.slice(0, -1)) {
      let next = folder.folders.get(part);
      if (!next) {
        next = { name: part, path: folder.path ? `${folder.path}/${part}` : part, folders: new Map(), files: [] };
        folder.folders.set(part, next);
      }
      folder = next;
    }
    folder.files.push(artifact);
  }
  return root;
}

const basename = (path: string) => path.split('/').pop() ?? path;

function TreeFolder({ folder, runId, selectedId, selectedPath }: { folder: Folder; runId: string; selectedId: string; selectedPath: string }) {
  const folders = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const files = [...folder.files].sort((a, b) => basename(a.path).localeCompare(basename(b.path)));
  return (
    <ul className="tree-list">
      {folders.map((child) => (
        <li key={child.path}>
          <details open={selectedPath.startsWith(`${child.path}/`) || child.folders.size + child.files.length <= 8}>
            <summary>{child.name}/</summary>
            <TreeFolder folder={child} runId={runId} selectedId={selectedId} selectedPath={selectedPath} />
          </details>
        </li>
      ))}
      {files.map((file) => (
        <li key={file.id}>
          <Link to={`/runs/${runId}/artifacts/${file.id}`} aria-current={file.id === selectedId ? 'page' : undefined} className="tree-file" title={file.path}>
            {basename(file.path)}
          </Link>
        </li>
      ))}
    </ul>
  );
}

function looksBinary(text: string): boolean {
  return text.includes('\u0000');
}

export function ArtifactPage({ runId, artifactId }: { runId: string; artifactId: string }) {
  const run = useQuery(ConsoleRunDocument, { id: runId });
  const file = useQuery(ConsoleArtifactContentDocument, { id: artifactId, maxBytes: VIEW_BYTES });
  const artifact = file.data?.artifact;
  useDocumentTitle(artifact ? basename(artifact.path) : 'File');
  const tree = useMemo(() => buildTree(run.data?.run?.artifacts ?? []), [run.data]);
  const project = run.data?.run?.project;
  const belongs = artifact ? artifact.runId === runId : true;

  let body;
  if (file.error && !file.data) body = <ErrorBox error={file.error} title="Could not load the file" onRetry={file.refetch} />;
  else if (!file.data) body = <Loading what="the file" />;
  else if (!artifact || !belongs) body = <Empty title="This run has no such file." />;
  else if (artifact.content == null)
    body = (
      <Empty title="The file is no longer in the project folder.">
        <p>It was recorded when the step wrote it, but it has been moved or deleted since.</p>
      </Empty>
    );
  else if (looksBinary(artifact.content))
    body = (
      <Empty title="This file is not text.">
        <DownloadLink artifact={artifact}>
          Download it
        </DownloadLink>
      </Empty>
    );
  else {
    body = (
      <>
        {artifact.sizeBytes > VIEW_BYTES ? (
          <p className="alert alert-warning">Showing the first {formatBytes(VIEW_BYTES)} of {formatBytes(artifact.sizeBytes)}: download the file for all of it.</p>
        ) : null}
        <NumberedLines text={artifact.content} label={`Contents of ${artifact.path}`} testId="file-content" />
      </>
    );
  }

  return (
    <>
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/">Runs</Link> / <Link to={`/runs/${runId}`}>#{runId}</Link> / <span aria-current="page">{artifact?.path ?? 'file'}</span>
      </nav>
      <PageTitle
        actions={
          artifact && belongs ? (
            <DownloadLink artifact={artifact}>
              Download
            </DownloadLink>
          ) : null
        }
      >
        {artifact ? basename(artifact.path) : 'File'}
      </PageTitle>
      {artifact && belongs ? (
        <p className="muted file-facts">
          <code>{artifact.path}</code> · {ARTIFACT_KIND_LABEL[artifact.kind]} · {formatBytes(artifact.sizeBytes)} · written by step {artifact.stepName ?? '—'} on{' '}
          {formatDateTime(artifact.createdAt)}
        </p>
      ) : null}
      <div className="viewer">
        <nav className="card tree" aria-label="Files of this run">
          <h2 className="tree-title" title={project?.localPath}>
            {project ? basename(project.localPath) || project.localPath : 'Project'}/
          </h2>
          {run.data?.run ? (
            run.data.run.artifacts.length ? (
              <TreeFolder folder={tree} runId={runId} selectedId={artifactId} selectedPath={artifact?.path ?? ''} />
            ) : (
              <p className="muted">No files.</p>
            )
          ) : run.error ? (
            <ErrorBox error={run.error} title="Could not load the files" />
          ) : (
            <Loading what="files" />
          )}
          <p className="hint">The files this run wrote in the project folder.</p>
        </nav>
        <section className="card file" aria-label="File contents">
          {body}
        </section>
      </div>
    </>
  );
}
