import type { ReactNode } from 'react';
import type { RunStatus, StepStatus } from '../../../src/client/generated/graphql';
import { ApiError } from '../api';
import { RUN_STATUS_LABEL, STEP_STATUS_LABEL } from '../format';

/** A run's status in words, with a symbol and a colour. */
export function StatusBadge({ status, pauseRequested = false }: { status: RunStatus; pauseRequested?: boolean }) {
  const label = RUN_STATUS_LABEL[status];
  return (
    <span className={`badge status-${status.toLowerCase()}`} title={label.hint} data-status={status}>
      <span aria-hidden="true" className="badge-icon">
        {label.icon}
      </span>
      {label.text}
      {pauseRequested && status === 'RUNNING' ? ' · pausing after this step' : ''}
    </span>
  );
}

export function StepBadge({ status }: { status: StepStatus }) {
  const label = STEP_STATUS_LABEL[status];
  return (
    <span className={`badge step-${status.toLowerCase()}`} data-step-status={status}>
      <span aria-hidden="true" className="badge-icon">
        {label.icon}
      </span>
      {label.text}
    </span>
  );
}

export function ErrorBox({ error, title = 'Something went wrong', onRetry }: { error: ApiError | Error | string; title?: string; onRetry?: () => void }) {
  // The token prompt is showing: the page loads once the token is in.
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    return (
      <p className="loading" role="status">
        Waiting for the API token…
      </p>
    );
  }
  const message = typeof error === 'string' ? error : error.message;
  return (
    <div className="alert alert-error" role="alert">
      <strong>{title}</strong>
      <p className="pre-line">{message}</p>
      {onRetry ? (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** The page's heading: focusable, so navigation can move focus to it. */
export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-title">
      <h1 tabIndex={-1}>{children}</h1>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </div>
  );
}

/** A text file's lines, numbered (the numbers are not selected or copied with the text). */
export function NumberedLines({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return (
    <pre className="file-content" data-testid={testId} tabIndex={0} aria-label={label}>
      <code>
        {lines.map((line, i) => (
          <span className="line" key={i}>
            <span className="line-number" aria-hidden="true">
              {i + 1}
            </span>
            {line}
            {'\n'}
          </span>
        ))}
      </code>
    </pre>
  );
}
