/**
 * The console's only way to the server: queries and mutations with `fetch`, subscriptions with
 * graphql-ws over the browser's WebSocket, all with the typed documents generated from
 * src/client/operations/*.graphql. It also keeps the API token (asked for once, kept in
 * localStorage) and the state of the live connection.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

const TOKEN_KEY = 'agent-runner.token';

/** One problem of a refused request, for the form field it concerns (`extensions.problems` of BAD_USER_INPUT). */
export interface FieldProblem {
  /** The field at fault (createRun's inputs: the input's name; empty for the whole). */
  field: string;
  message: string;
}

/** An error from the server, in its own words, with `extensions.code` and `extensions.problems` when it had them. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly problems: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type ConnectionStatus =
  /** no live stream is open (nothing to show) */
  | 'idle'
  | 'connecting'
  | 'live'
  /** a live connection dropped; streams resubscribe from where they were */
  | 'lost';

export interface ApiState {
  connection: ConnectionStatus;
  /** The server asked for a token (HTTP 401 / UNAUTHENTICATED, or WebSocket close 4403). */
  authNeeded: boolean;
  /** A token was given and the server refused it. */
  tokenRefused: boolean;
  hasToken: boolean;
  /** Bumped when data may have been missed (a token was entered, a lost connection came back): pages reload. */
  epoch: number;
}

export interface StreamHandlers<T> {
  next(data: T): void;
  /** The server ended the stream (runEvents after a run's last event). */
  complete?(): void;
  /** The server refused the subscription (an unknown run, bad arguments). */
  error?(error: ApiError): void;
}

interface ActiveStream {
  restart(): void;
}

const printed = new WeakMap<DocumentNode, string>();
function queryText(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

type GraphQLErrorLike = { message: string; extensions?: Record<string, unknown> };

function toApiError(errors: readonly GraphQLErrorLike[]): ApiError {
  const problems = errors.flatMap((e) => (Array.isArray(e.extensions?.problems) ? (e.extensions.problems as unknown[]) : []));
  const fieldProblems = problems.filter(
    (p): p is FieldProblem => typeof p === 'object' && p !== null && typeof (p as FieldProblem).field === 'string' && typeof (p as FieldProblem).message === 'string',
  );
  return new ApiError(errors.map((e) => e.message).join('\n'), errors[0]?.extensions?.code as string | undefined, fieldProblems);
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

export class Api {
  private token: string | null;
  private ws: Client | null = null;
  private state: ApiState;
  private readonly listeners = new Set<() => void>();
  private readonly streams = new Set<ActiveStream>();
  /** Streams parked until a token is entered (the WebSocket was refused with 4403). */
  private readonly waitingForToken = new Set<ActiveStream>();
  private lostAt: number | null = null;

  constructor(private readonly base = '') {
    this.token = readToken();
    this.state = { connection: 'idle', authNeeded: false, tokenRefused: false, hasToken: this.token !== null, epoch: 0 };
  }

  // --- state for React (useSyncExternalStore) ---------------------------------------------------

  getState = (): ApiState => this.state;

  onChange = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private update(patch: Partial<ApiState>): void {
    const next = { ...this.state, ...patch };
    if ((Object.keys(patch) as Array<keyof ApiState>).every((key) => this.state[key] === next[key])) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  // --- token ------------------------------------------------------------------------------------

  private needToken(): void {
    this.update({ authNeeded: true, tokenRefused: this.token !== null });
  }

  /** Keeps the token in this browser and retries everything with it. */
  setToken(token: string): void {
    this.token = token.trim() || null;
    try {
      if (this.token) localStorage.setItem(TOKEN_KEY, this.token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch {
      // Private mode: the token lasts for this page only.
    }
    this.resetSocket();
    const parked = [...this.waitingForToken];
    this.waitingForToken.clear();
    for (const stream of [...this.streams, ...parked]) stream.restart();
    this.update({ authNeeded: false, hasToken: this.token !== null, epoch: this.state.epoch + 1 });
  }

  private authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  // --- queries and mutations --------------------------------------------------------------------

  async request<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Promise<TResult> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...this.authHeaders() },
        body: JSON.stringify({ query: queryText(document), variables }),
      });
    } catch {
      throw new ApiError('Cannot reach the agent-runner server. Is it running? The page retries when you act again.', 'NETWORK');
    }
    let body: { data?: TResult | null; errors?: GraphQLErrorLike[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new ApiError(`The server answered ${response.status} ${response.statusText} without a GraphQL result.`, 'NETWORK');
    }
    if (body.errors?.length) {
      const error = toApiError(body.errors);
      if (error.code === 'UNAUTHENTICATED' || response.status === 401) this.needToken();
      throw error;
    }
    if (body.data == null) throw new ApiError(`The server answered ${response.status} without data.`);
    return body.data;
  }

  // --- live streams -----------------------------------------------------------------------------

  private wsUrl(): string {
    const origin = this.base || window.location.origin;
    return `${origin.replace(/^http/, 'ws')}/graphql`;
  }

  private client(): Client {
    if (this.ws) return this.ws;
    const client = createClient({
      url: this.wsUrl(),
      lazy: true,
      // Streams resubscribe themselves (from the last seq they showed), never graphql-ws with stale variables.
      retryAttempts: 0,
      keepAlive: 10_000,
      connectionParams: () => (this.token ? { authorization: `Bearer ${this.token}` } : {}),
    });
    client.on('connecting', () => {
      if (this.ws !== client) return;
      this.update({ connection: this.lostAt !== null ? 'lost' : 'connecting' });
    });
    client.on('connected', () => {
      if (this.ws !== client) return;
      const recovered = this.lostAt !== null;
      this.lostAt = null;
      this.update({ connection: 'live', ...(recovered ? { epoch: this.state.epoch + 1 } : {}) });
    });
    client.on('closed', (event) => {
      if (this.ws !== client) return;
      const code = isCloseEvent(event) ? event.code : 0;
      // A lazy socket closes normally (1000) when nothing listens any more: that is not a loss.
      if (code === 1000 && this.streams.size === 0) return this.update({ connection: 'idle' });
      if (code === 4403) return;
      this.lostAt ??= Date.now();
      this.update({ connection: 'lost' });
    });
    this.ws = client;
    return client;
  }

  private resetSocket(): void {
    const old = this.ws;
    this.ws = null;
    void old?.dispose();
  }

  /**
   * A live subscription that survives dropped connections: after a loss it subscribes again with
   * `variables()` as they are then (runEvents passes the last seq it showed), with a growing delay.
   * Returns a function that ends it.
   */
  stream<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: () => TVariables, handlers: StreamHandlers<TResult>): () => void {
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current: { live: boolean; unsubscribe: () => void } | null = null;

    const abandon = () => {
      if (!current) return;
      current.live = false;
      current.unsubscribe();
      current = null;
    };

    const retryLater = () => {
      abandon();
      if (stopped) return;
      this.lostAt ??= Date.now();
      this.update({ connection: 'lost' });
      const delay = Math.min(5000, 300 * 2 ** attempt++);
      clearTimeout(timer);
      timer = setTimeout(start, delay);
    };

    const start = () => {
      if (stopped) return;
      abandon();
      clearTimeout(timer);
      const attemptState = { live: true, unsubscribe: () => {} };
      current = attemptState;
      attemptState.unsubscribe = this.client().subscribe<TResult>(
        { query: queryText(document), variables: variables() as Record<string, unknown> },
        {
          next: (result) => {
            if (!attemptState.live) return;
            if (result.errors?.length) {
              attemptState.live = false;
              return handlers.error?.(toApiError(result.errors as GraphQLErrorLike[]));
            }
            attempt = 0;
            if (result.data) handlers.next(result.data as TResult);
          },
          error: (error: unknown) => {
            if (!attemptState.live) return;
            attemptState.live = false;
            if (current === attemptState) current = null;
            if (isCloseEvent(error) && error.code === 4403) {
              this.needToken();
              this.waitingForToken.add(entry);
              return;
            }
            if (Array.isArray(error)) {
              const apiError = toApiError(error as GraphQLErrorLike[]);
              // A subscriber that fell behind is told to resubscribe: do so, from where it was.
              if (/resubscribe/i.test(apiError.message)) return retryLater();
              if (apiError.code === 'UNAUTHENTICATED') {
                this.needToken();
                this.waitingForToken.add(entry);
                return;
              }
              return handlers.error?.(apiError);
            }
            retryLater();
          },
          complete: () => {
            if (!attemptState.live) return;
            attemptState.live = false;
            if (current === attemptState) current = null;
            handlers.complete?.();
          },
        },
      );
    };

    const entry: ActiveStream = {
      restart: () => {
        attempt = 0;
        start();
      },
    };
    this.streams.add(entry);
    start();
    return () => {
      stopped = true;
      clearTimeout(timer);
      abandon();
      this.streams.delete(entry);
      this.waitingForToken.delete(entry);
    };
  }
}

function readToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export const api = new Api();
