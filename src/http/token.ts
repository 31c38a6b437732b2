import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Compares a presented `Authorization` value with `Bearer <token>` without leaking timing. */
export function bearerMatches(token: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(`Bearer ${token}`));
}

/**
 * The API's token rule for plain HTTP routes: no token configured lets everyone in; otherwise the
 * request carries `Authorization: Bearer <token>`, or, where a browser cannot set headers (a
 * download link), `?token=<token>` when `allowQuery` is true.
 */
export function requestAuthorized(token: string | null, req: IncomingMessage, url: URL, { allowQuery = false } = {}): boolean {
  if (!token) return true;
  if (bearerMatches(token, req.headers.authorization)) return true;
  const fromQuery = allowQuery ? url.searchParams.get('token') : null;
  return fromQuery !== null && bearerMatches(token, `Bearer ${fromQuery}`);
}
