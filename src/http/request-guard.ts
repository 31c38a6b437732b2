/**
 * Who may talk to this server from a browser. Every HTTP request and WebSocket upgrade passes
 * `refuseForeignRequest` before anything else: the `Host` header must name this server (against DNS
 * rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example`),
 * and a page's `Origin` must be the server's own or an allowed one (against cross-site requests: a page
 * the user merely visits posting a form or opening a WebSocket to 127.0.0.1). Clients that are not
 * browsers send no `Origin` and are not affected; they are what API_TOKEN is for.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

export interface RequestGuardOptions {
  /** Host names accepted besides loopback names and IP addresses, lower-case; `*` accepts any. */
  allowedHosts: readonly string[];
  /** Origins (`https://console.example.com`) accepted besides the server's own. */
  allowedOrigins: readonly string[];
}

/** Why a request is refused: an HTTP status, an error code for `extensions.code`, and what to do. */
export interface Refusal {
  status: number;
  code: 'FORBIDDEN_HOST' | 'FORBIDDEN_ORIGIN' | 'UNSUPPORTED_MEDIA_TYPE' | 'REQUEST_TOO_LARGE' | 'LENGTH_REQUIRED';
  message: string;
}

/** `[::1]` → `::1`; a trailing dot (`localhost.`) removed; lower-case. */
function normaliseHostname(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether `host` (a `HOST` setting or a Host header's name, without port) is the loopback interface:
 * `localhost` and its subdomains, 127.0.0.0/8, `::1` and IPv4-mapped 127.x addresses.
 */
export function isLoopbackHost(host: string): boolean {
  const name = normaliseHostname(host);
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  if (isIP(v4) === 4) return LOOPBACK.check(v4, 'ipv4');
  return isIP(name) === 6 && LOOPBACK.check(name, 'ipv6');
}

/** The name part of a Host header (`example.com:8000` → `example.com`, `[::1]:8000` → `::1`). */
function hostnameOfHeader(host: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (bracketed) return normaliseHostname(bracketed[1]!);
  return normaliseHostname(host.replace(/:\d*$/, ''));
}

/**
 * Whether a Host header names this server: a loopback name, an IP address (a browser sends a literal
 * address only when its page came from that address, so it cannot be rebound), or an allowed name.
 */
function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const name = hostnameOfHeader(host);
  if (name === '') return false;
  if (isLoopbackHost(name) || isIP(name) !== 0) return true;
  return allowedHosts.includes('*') || allowedHosts.includes(name);
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Whether `origin` is the server's own: the page came from the host the request is addressed to. */
function sameOrigin(origin: URL, host: string): boolean {
  const defaultPort = DEFAULT_PORTS[origin.protocol];
  const hostHeader = host.toLowerCase().replace(new RegExp(`:${defaultPort}$`), '');
  return origin.host === hostHeader;
}

function parseOrigin(value: string): URL | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/**
 * The refusal for a request that is not addressed to this server or comes from another site's page,
 * or null to serve it. Rules, in order:
 * 1. `Host` is present and names a loopback host, an IP address or a host in `allowedHosts` (403 FORBIDDEN_HOST).
 * 2. `Origin`, when present, is the server's own (`http(s)://<Host>`) or in `allowedOrigins`; `null`
 *    (sandboxed frames, local files) is refused (403 FORBIDDEN_ORIGIN).
 * 3. Without `Origin`, a browser request marked `Sec-Fetch-Site: cross-site` or `same-site` that is not
 *    a navigation (an `<img>` or `<script>` pointing at the API) is refused (403 FORBIDDEN_ORIGIN).
 *    Following a link to the console, GraphiQL or a download from another site still works.
 */
export function refuseForeignRequest(headers: IncomingHttpHeaders, options: RequestGuardOptions): Refusal | null {
  const host = headers.host;
  if (!host) {
    return { status: 400, code: 'FORBIDDEN_HOST', message: 'A request without a Host header is refused: send Host (every HTTP/1.1 client does).' };
  }
  if (!hostAllowed(host, options.allowedHosts)) {
    const name = hostnameOfHeader(host);
    return {
      status: 403,
      code: 'FORBIDDEN_HOST',
      message: `Requests addressed to ${JSON.stringify(name)} are refused: this server answers to localhost, IP addresses and the names in ALLOWED_HOSTS only (a guard against DNS rebinding). If you reach it under this name on purpose, add ${name} to ALLOWED_HOSTS.`,
    };
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const url = parseOrigin(origin);
    if (url && (sameOrigin(url, host) || options.allowedOrigins.includes(url.origin))) return null;
    const shown = url ? url.origin : JSON.stringify(origin);
    return {
      status: 403,
      code: 'FORBIDDEN_ORIGIN',
      message: url
        ? `Requests from pages of ${shown} are refused: only this server's own pages and the origins in ALLOWED_ORIGINS may call it. To let that site use the API, add ${shown} to ALLOWED_ORIGINS.`
        : `Requests from the origin ${shown} (a sandboxed frame, a local file or a redirect) are refused: only this server's own pages and the origins in ALLOWED_ORIGINS may call it.`,
    };
  }
  const site = headers['sec-fetch-site'];
  if ((site === 'cross-site' || site === 'same-site') && headers['sec-fetch-mode'] !== 'navigate') {
    return {
      status: 403,
      code: 'FORBIDDEN_ORIGIN',
      message: `A request another site's page made (Sec-Fetch-Site: ${site}) is refused: only this server's own pages and the origins in ALLOWED_ORIGINS may call it.`,
    };
  }
  return null;
}

/** Request bodies GraphQL over HTTP accepts: JSON only, which a cross-site page cannot send without CORS. */
const GRAPHQL_BODY_TYPES = ['application/json', 'application/graphql+json'];

/**
 * The refusal of a GraphQL-over-HTTP request's body, or null. A POST must be JSON (a form or multipart
 * body, which any web page can send cross-site without a preflight, is 415 UNSUPPORTED_MEDIA_TYPE),
 * declare its length (411 LENGTH_REQUIRED), and stay within `maxBytes` (413 REQUEST_TOO_LARGE). GETs
 * carry no body; yoga refuses mutations over GET itself (405).
 */
export function refuseGraphQLBody(method: string | undefined, headers: IncomingHttpHeaders, maxBytes: number): Refusal | null {
  if (method !== 'POST') return null;
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!GRAPHQL_BODY_TYPES.includes(type)) {
    return {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: `GraphQL requests must be JSON: send "Content-Type: application/json" with {"query": …, "variables": …} (got ${type ? JSON.stringify(type) : 'no Content-Type'}). Queries may also be sent with GET.`,
    };
  }
  const length = headers['content-length'];
  if (length === undefined) {
    return { status: 411, code: 'LENGTH_REQUIRED', message: 'A GraphQL request body needs a Content-Length header (chunked bodies are not accepted).' };
  }
  if (Number(length) > maxBytes) {
    return {
      status: 413,
      code: 'REQUEST_TOO_LARGE',
      message: `The request body has ${length} bytes, more than the ${maxBytes} this server accepts: send less (long texts in fewer requests), or raise MAX_REQUEST_BYTES on the server.`,
    };
  }
  return null;
}
