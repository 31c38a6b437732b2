import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * A thin typed client over the generated documents: queries and mutations over HTTP, subscriptions
 * over graphql-ws. Used by the tests, the demo and (later) the console and CLI.
 */
export interface ClientOptions {
  /** Base URL of the server, such as http://127.0.0.1:8000. */
  url: string;
  /** The server's API_TOKEN, if it has one. */
  token?: string;
  /** Called each time the WebSocket for subscriptions is (re)connected and accepted. */
  onConnected?: () => void;
}

/** A GraphQL error result, with the errors as the server sent them. */
export class GraphQLRequestError extends Error {
  constructor(readonly errors: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'GraphQLRequestError';
  }

  /** `extensions.code` of the first error (NOT_FOUND, BAD_USER_INPUT, CONFLICT, UNAUTHENTICATED …). */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code as string | undefined;
  }
}

/**
 * The server could not be reached or did not answer as an agent-runner server: refused, unknown
 * host, a dropped WebSocket, or an HTTP answer that is not GraphQL. `code` is the network error's
 * code (ECONNREFUSED, ENOTFOUND …) or the WebSocket's close code (4403: the token was refused).
 */
export class ConnectionError extends Error {
  constructor(
    /** The server URL that was tried. */
    readonly url: string,
    message: string,
    readonly code?: string | number,
    /** The server answered, but not as an agent-runner server does (a wrong URL). */
    readonly answered = false,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Words for the network error `fetch` or `ws` failed with (its cause's code, when it has one). */
function networkProblem(error: unknown): { code?: string; words: string } {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause ?? (error as { error?: { code?: string; message?: string } } | null)?.error ?? error;
  const code = (cause as { code?: string } | null)?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens there)',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'the host name could not be resolved',
    ETIMEDOUT: 'the connection timed out',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'the host is unreachable',
  };
  return { code, words: (code && words[code]) ?? (cause as { message?: string } | null)?.message ?? String(cause) };
}

/** What a WebSocket that closed, or failed to open, under a subscription means for the caller. */
function subscriptionFailure(url: string, error: unknown): Error {
  const closeCode = (error as { code?: unknown } | null)?.code;
  if (typeof closeCode === 'number') {
    if (closeCode === 4403) return new ConnectionError(url, `The server at ${url} refused the WebSocket: missing or wrong API token (close code 4403)`, closeCode);
    const reason = (error as { reason?: string }).reason;
    return new ConnectionError(url, `The WebSocket to ${url} closed with code ${closeCode}${reason ? ` (${reason})` : ''}`, closeCode);
  }
  const { code, words } = networkProblem(error);
  return new ConnectionError(url, `Lost the WebSocket to ${url}: ${words}`, code);
}

export interface Subscription<T> extends AsyncIterableIterator<T> {
  /** Ends the subscription. */
  close(): void;
}

export class AgentRunnerClient {
  private ws: WsClient | null = null;

  constructor(private readonly options: ClientOptions) {}

  private headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
    };
  }

  /** Runs a query or mutation; throws GraphQLRequestError when the server answers with errors. */
  async request<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]): Promise<TResult> {
    const result = await this.execute(document, variables as TVariables);
    if (result.errors?.length) throw new GraphQLRequestError(result.errors);
    return result.data as TResult;
  }

  /** Runs a query or mutation and returns the whole result, errors included. */
  async execute<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables?: TVariables): Promise<ExecutionResult<TResult>> {
    const endpoint = `${this.options.url}/graphql`;
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
      });
    } catch (error) {
      const { code, words } = networkProblem(error);
      throw new ConnectionError(this.options.url, `Cannot reach ${endpoint}: ${words}`, code);
    }
    const type = response.headers.get('content-type') ?? '';
    if (!type.includes('json')) {
      throw new ConnectionError(this.options.url, `${endpoint} answered HTTP ${response.status} (${type || 'no content type'}) instead of GraphQL`, response.status, true);
    }
    return (await response.json()) as ExecutionResult<TResult>;
  }

  /**
   * An artifact's file (`GET /artifacts/<id>/download`), as the response to stream from. Throws
   * ConnectionError when the server cannot be reached, and an Error with the server's message
   * for an answer other than 200 (401: the token; 404: the file is gone).
   */
  async download(artifactId: string): Promise<Response> {
    const url = `${this.options.url}/artifacts/${encodeURIComponent(artifactId)}/download`;
    let response: Response;
    try {
      response = await fetch(url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
    } catch (error) {
      const { code, words } = networkProblem(error);
      throw new ConnectionError(this.options.url, `Cannot reach ${url}: ${words}`, code);
    }
    if (response.ok && response.body) return response;
    const body = await response.text();
    let message = body;
    try {
      message = (JSON.parse(body) as { error?: string }).error ?? body;
    } catch {
      // not JSON: the text as it is
    }
    throw new Error(`${url} answered HTTP ${response.status}: ${message}`);
  }

  private wsClient(): WsClient {
    this.ws ??= createWsClient({
      url: `${this.options.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
      lazy: true,
      retryAttempts: 0,
      ...(this.options.onConnected ? { on: { connected: this.options.onConnected } } : {}),
    });
    return this.ws;
  }

  /**
   * Subscribes over WebSocket; iterate the results, `close()` to stop. Errors are thrown from
   * `next()`: GraphQLRequestError for the server's errors, ConnectionError when the socket fails or
   * drops (subscribing again opens a new one).
   */
  subscribe<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Subscription<TResult> {
    const iterator = this.wsClient().iterate<TResult>({ query: print(document), variables: variables as Record<string, unknown> });
    const url = this.options.url;
    const subscription: Subscription<TResult> = {
      async next() {
        let step;
        try {
          step = await iterator.next();
        } catch (error) {
          // graphql-ws rejects with the server's error array when it ends a subscription with errors,
          // and with the socket's close or error event when the connection fails or drops.
          if (Array.isArray(error)) throw new GraphQLRequestError(error);
          if (error instanceof Error) throw error;
          throw subscriptionFailure(url, error);
        }
        if (step.done) return { done: true, value: undefined };
        if (step.value.errors?.length) throw new GraphQLRequestError(step.value.errors);
        return { done: false, value: step.value.data as TResult };
      },
      async return() {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
      close() {
        void iterator.return?.();
      },
      [Symbol.asyncIterator]() {
        return subscription;
      },
    };
    return subscription;
  }

  /** Closes the WebSocket, if one is open. */
  async close(): Promise<void> {
    await this.ws?.dispose();
    this.ws = null;
  }
}
