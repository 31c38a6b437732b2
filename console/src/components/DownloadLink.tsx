import { useEffect, useState, type MouseEvent, type ReactNode } from 'react';
import { ConsoleArtifactDownloadUrlDocument, type ConsoleArtifactFragment } from '../../../src/client/generated/graphql';
import { api } from '../api';

/** A link this close to its expiry is renewed before it is followed. */
const RENEW_BEFORE_MS = 15_000;

function expiresSoon(url: string): boolean {
  const expires = Number(new URL(url, window.location.href).searchParams.get('expires'));
  return !expires || expires * 1000 - Date.now() < RENEW_BEFORE_MS;
}

function follow(url: string): void {
  const link = document.createElement('a');
  link.href = url;
  link.download = '';
  document.body.append(link);
  link.click();
  link.remove();
}

/**
 * Downloads an artifact through its signed, short-lived link (`Artifact.downloadUrl`: the API token
 * never goes into a URL). The link came with the page's data; on a page left open past its life, a
 * click asks the server for a fresh one first.
 */
export function DownloadLink({ artifact, className = 'button', label, children }: { artifact: Pick<ConsoleArtifactFragment, 'id' | 'downloadUrl'>; className?: string; label?: string; children: ReactNode }) {
  const [href, setHref] = useState(artifact.downloadUrl);
  useEffect(() => setHref(artifact.downloadUrl), [artifact.downloadUrl]);

  const renewThenFollow = async (event: MouseEvent<HTMLAnchorElement>) => {
    if (!expiresSoon(href)) return;
    event.preventDefault();
    try {
      const { artifact: fresh } = await api.request(ConsoleArtifactDownloadUrlDocument, { id: artifact.id });
      if (!fresh) return;
      setHref(fresh.downloadUrl);
      follow(fresh.downloadUrl);
    } catch {
      // Unreachable server or token needed: the page shows both already.
    }
  };

  return (
    <a className={className} href={href} download aria-label={label} onClick={(event) => void renewThenFollow(event)}>
      {children}
    </a>
  );
}
