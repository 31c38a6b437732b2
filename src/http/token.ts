import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether a presented `Authorization` value is `Bearer <token>`: the scheme in any case (`bearer`,
 * RFC 9110 §11.1), one or more spaces, then the token, compared without leaking timing.
 */
export function bearerMatches(token: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const match = /^bearer +(.*)$/i.exec(presented);
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * The API's token rule for plain HTTP routes: no token configured lets everyone in; otherwise the
 * request carries `Authorization: Bearer <token>`.
 */
export function requestAuthorized(token: string | null, req: IncomingMessage): boolean {
  return !token || bearerMatches(token, req.headers.authorization);
}
