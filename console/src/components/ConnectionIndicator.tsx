import { useApiState } from '../hooks';

/** The live connection's state, in words and colour; announced when it changes. */
export function ConnectionIndicator() {
  const { connection, authNeeded } = useApiState();
  if (authNeeded) {
    return (
      <span className="connection connection-connecting" role="status" aria-live="polite" data-connection="token">
        <span className="connection-dot" aria-hidden="true" />
        Waiting for the API token
      </span>
    );
  }
  const text = {
    idle: 'Ready',
    connecting: 'Connecting…',
    live: 'Live',
    lost: 'Connection lost — reconnecting…',
  }[connection];
  return (
    <span className={`connection connection-${connection}`} role="status" aria-live="polite" data-connection={connection}>
      <span className="connection-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** A banner under the header while the live connection is down. */
export function ConnectionBanner() {
  const { connection } = useApiState();
  if (connection !== 'lost') return null;
  return (
    <div className="banner banner-warning" role="alert">
      The live connection to the server dropped. Reconnecting — the pages pick up where they stopped, nothing is lost.
    </div>
  );
}
