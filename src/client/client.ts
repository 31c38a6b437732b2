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
    const response = await fetch(`${this.options.url}/graphql`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
    });
    return (await response.json()) as ExecutionResult<TResult>;
  }

  private wsClient(): WsClient {
    this.ws ??= createWsClient({
      url: `${this.options.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
      lazy: true,
      retryAttempts: 0,
    });
    return this.ws;
  }

  /** Subscribes over WebSocket; iterate the results, `close()` to stop. Errors are thrown from `next()`. */
  subscribe<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Subscription<TResult> {
    const iterator = this.wsClient().iterate<TResult>({ query: print(document), variables: variables as Record<string, unknown> });
    const subscription: Subscription<TResult> = {
      async next() {
        let step;
        try {
          step = await iterator.next();
        } catch (error) {
          // graphql-ws rejects with the server's error array when it ends a subscription with errors.
          if (Array.isArray(error)) throw new GraphQLRequestError(error);
          throw error;
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
