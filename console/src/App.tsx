import { ConnectionBanner, ConnectionIndicator } from './components/ConnectionIndicator';
import { Empty, PageTitle } from './components/common';
import { TokenPrompt } from './components/TokenPrompt';
import { ArtifactPage } from './pages/ArtifactPage';
import { NewRunPage } from './pages/NewRunPage';
import { ProjectsPage } from './pages/ProjectsPage';
import { RunPage } from './pages/RunPage';
import { RunsPage } from './pages/RunsPage';
import { WorkflowsPage } from './pages/WorkflowsPage';
import { Link, matchPath, useLocation } from './router';

function Page({ pathname }: { pathname: string }) {
  let params: Record<string, string> | null;
  if (pathname === '/' || pathname === '/runs') return <RunsPage />;
  if (pathname === '/runs/new') return <NewRunPage />;
  if ((params = matchPath('/runs/:id', pathname))) return <RunPage key={params.id} runId={params.id!} />;
  if ((params = matchPath('/runs/:id/artifacts/:artifactId', pathname))) return <ArtifactPage runId={params.id!} artifactId={params.artifactId!} />;
  if (pathname === '/projects') return <ProjectsPage />;
  if (pathname === '/workflows') return <WorkflowsPage />;
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <Empty title={`There is nothing at ${pathname}.`}>
        <Link to="/" className="button">
          Go to the runs
        </Link>
      </Empty>
    </>
  );
}

const NAV = [
  { to: '/', label: 'Runs', active: (p: string) => p === '/' || p.startsWith('/runs') },
  { to: '/projects', label: 'Projects', active: (p: string) => p.startsWith('/projects') },
  { to: '/workflows', label: 'Workflows', active: (p: string) => p.startsWith('/workflows') },
];

export function App() {
  const { pathname } = useLocation();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ▲
          </span>
          agent-runner
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={item.active(pathname) ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
            <li>
              <a href="/graphql" target="_blank" rel="noreferrer">
                GraphiQL<span className="sr-only"> (opens in a new tab)</span>
              </a>
            </li>
          </ul>
        </nav>
        <ConnectionIndicator />
      </header>
      <ConnectionBanner />
      <main id="main">
        <Page pathname={pathname} />
      </main>
      <TokenPrompt />
    </>
  );
}
