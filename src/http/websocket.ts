import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createSourceEventStream, execute, getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { CloseCode, handleProtocols, makeServer, type Context as WsContext, type ServerOptions, type SubscribePayload } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Context } from '../context.js';
import type { Refusal } from './request-guard.js';

/** What each WebSocket operation carries from `onSubscribe` to `execute`/`subscribe`. */
interface OperationRoot {
  /** yoga's enveloped execute, for queries and mutations. */
  execute: (args: ExecutionArgs) => unknown;
  /** Operations with the same key get the same result for the same event (see sharedPayloads). */
  key: string;
  maskError: (error: unknown) => Error;
  /** The subscription's selection compiled to a function, or null to use graphql's `execute`. */
  compiled: CompiledQuery | null;
  /** Sends a text frame on the operation's socket (a promise when the socket is backed up). */
  send: (data: string) => Promise<void> | void;
  /** The client's id of this operation. */
  id: string;
  /** Aborted when the socket closes: a query or mutation still executing stops resolving fields. */
  signal: AbortSignal;
}

/** Distinct subscription documents compiled per schema; past this many, the oldest is dropped. */
const MAX_COMPILED_OPERATIONS = 200;
const compiledOperations = new WeakMap<GraphQLSchema, Map<string, CompiledQuery | null>>();

/** Names one operation of one document (the compiled-operation cache's key; with the variables, the shared-result key). */
const operationKey = (operationName: string | null | undefined, query: string): string => `${operationName ?? ''}\u0000${query}`;

/**
 * A subscription's selection compiled once (graphql-jit) and reused for every event it delivers:
 * graphql's `execute` re-does the same work per event (coercing variables and arguments,
 * collecting fields, checking types), which dominates when each run has one subscriber. Documents
 * graphql-jit cannot compile (null) fall back to `execute`.
 */
export function compiledSubscription(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, query: string): CompiledQuery | null {
  let bySchema = compiledOperations.get(schema);
  if (!bySchema) {
    bySchema = new Map();
    compiledOperations.set(schema, bySchema);
  }
  const key = operationKey(operationName, query);
  let compiled = bySchema.get(key);
  if (compiled === undefined) {
    const result = compileQuery(schema, document, operationName ?? undefined);
    compiled = isCompiledQuery(result) ? result : null;
    if (bySchema.size >= MAX_COMPILED_OPERATIONS) bySchema.delete(bySchema.keys().next().value!);
    bySchema.set(key, compiled);
  }
  return compiled;
}

/**
 * The JSON of one published payload (an event, a run) through an operation, by operation key. Every
 * subscriber of a run receives the same payload object, so a WeakMap keyed by it shares one
 * execution and one serialisation among all the subscribers that sent the same query and variables,
 * and forgets them once the payload is gone. This is sound because subscription results here
 * depend only on the payload, the query and its variables: no resolver reads anything of the
 * connection (there are no per-user views).
 */
const sharedPayloads = new WeakMap<object, Map<string, string | Promise<string>>>();

/**
 * One payload through the operation's selection. graphql's own `execute` when it is not compiled,
 * since yoga's enveloped one turns a subscription document into a new subscription; errors are
 * masked as the envelope would.
 */
async function executePayload(root: OperationRoot, args: ExecutionArgs, payload: unknown): Promise<ExecutionResult> {
  const result = root.compiled
    ? ((await root.compiled.query(payload, args.contextValue, args.variableValues ?? {})) as ExecutionResult)
    : await execute({ ...args, rootValue: payload });
  return result.errors ? { ...result, errors: result.errors.map((error) => root.maskError(error) as GraphQLError) } : result;
}

/** A result as the `payload` of a graphql-ws `next` message, in JSON (as graphql-ws writes it). */
function resultJson(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  return JSON.stringify(errors ? { ...rest, errors: errors.map((error: GraphQLError | Error) => (error instanceof GraphQLError ? error.toJSON() : { message: error.message })) } : rest);
}

function sharedPayloadJson(root: OperationRoot, args: ExecutionArgs, payload: unknown): string | Promise<string> {
  if (typeof payload !== 'object' || payload === null) return executePayload(root, args, payload).then(resultJson);
  let byKey = sharedPayloads.get(payload);
  if (!byKey) {
    byKey = new Map();
    sharedPayloads.set(payload, byKey);
  }
  let json = byKey.get(root.key);
  if (json === undefined) {
    const pending = executePayload(root, args, payload).then((result) => {
      const text = resultJson(result);
      byKey.set(root.key, text);
      return text;
    });
    byKey.set(root.key, pending);
    json = pending;
  }
  return json;
}

/**
 * Streams a subscription's source to its socket, one `next` frame per payload, built from the
 * shared JSON and a prefix made once per subscription: no per-subscriber execution, serialisation
 * or message validation, and no hop through graphql-ws's own loop, which sees this as an iterator
 * that yields nothing and ends when the source ends (then sends `complete` itself). `return()` (the
 * client completed or left) ends the source at once. An error thrown by the source (a subscriber
 * too slow to keep up) is sent as a last result carrying that error, masked, as over HTTP.
 */
function pumpToSocket(source: AsyncIterator<unknown>, root: OperationRoot, args: ExecutionArgs): AsyncIterableIterator<never> {
  const prefix = `{"id":${JSON.stringify(root.id)},"type":"next","payload":`;
  const iterator: AsyncIterableIterator<never> = {
    async next() {
      try {
        for (;;) {
          const step = await source.next();
          if (step.done) break;
          // Most subscribers find the JSON already made: no await (a microtask) for them.
          const shared = sharedPayloadJson(root, args, step.value);
          const json = typeof shared === 'string' ? shared : await shared;
          const sent = root.send(`${prefix}${json}}`);
          if (sent) await sent;
        }
      } catch (error) {
        await root.send(`${prefix}${resultJson({ errors: [root.maskError(error) as GraphQLError] })}}`);
      }
      return { done: true, value: undefined };
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      if (source.throw) await source.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/** Answers a refused upgrade with a plain HTTP response (the JSON body says why) and closes the socket. */
function rejectUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.once('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/**
 * graphql-ws on the HTTP server's `/graphql`, running every operation through yoga's envelope
 * (same plugins, context and error masking as HTTP). Subscriptions execute each published payload
 * once per distinct operation instead of once per subscriber: with a hundred subscribers on a run,
 * an event is executed once and only serialised and sent a hundred times.
 *
 * Bounds: an upgrade `refuseUpgrade` objects to (a foreign Host or Origin) is answered with its HTTP
 * status; a message longer than `maxMessageBytes` closes the socket with 1009 (Message Too Big);
 * past `maxOperationsPerSocket` operations at once, a new one is refused with TOO_MANY_SUBSCRIPTIONS;
 * a subscription over the cost limit is refused before it starts (queries and mutations meet the
 * limit in yoga's execute, like over HTTP).
 */
export function attachGraphQLWebSocket(options: {
  httpServer: Server;
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, Context>;
  /** False refuses the connection (closed with 4403). */
  authorize: (connectionParams: Readonly<Record<string, unknown>> | undefined) => boolean;
  maskError: (error: unknown) => Error;
  /** Why an upgrade request is refused, or null to accept it. */
  refuseUpgrade: (request: IncomingMessage) => Refusal | null;
  /** Largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** Operations (subscriptions, and queries still running) one socket may have at once. */
  maxOperationsPerSocket: number;
  /** The refusal of an operation over the cost limit, or an empty list. */
  costErrors: (args: ExecutionArgs) => readonly GraphQLError[];
}) {
  // noServer: upgrades are handed over below, after the guard; and ws does not re-emit the HTTP server's
  // own errors (EADDRINUSE, which start() reports), as it does when given the server.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, handleProtocols });
  options.httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/graphql') return rejectUpgrade(socket, 404, { error: `No WebSocket at ${path}: GraphQL over WebSocket (graphql-ws) is at /graphql.` });
    const refusal = options.refuseUpgrade(request);
    if (refusal) return rejectUpgrade(socket, refusal.status, { error: refusal.message, code: refusal.code });
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });
  const sender = new FrameSender();
  const handle = serveGraphQLOverWebSocket(
    {
      execute: (args) => {
        const root = args.rootValue as OperationRoot;
        return root.execute({ ...args, signal: root.signal } as ExecutionArgs) as never;
      },
      subscribe: async (args) => {
        const root = args.rootValue as OperationRoot;
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in source)) {
          // Refused before any event (an unknown run, a bad argument): masked like every other error.
          return { ...source, errors: source.errors?.map((error) => options.maskError(error) as GraphQLError) } as never;
        }
        return pumpToSocket(source[Symbol.asyncIterator](), root, args) as never;
      },
      onConnect: (ctx) => options.authorize(ctx.connectionParams),
      onSubscribe: async (ctx, id, payload) => {
        const operations = ctx.extra.operations;
        // Counted here, not from ctx.subscriptions: a burst of subscribe messages fills that with
        // placeholders, and counting them for each message took quadratic time.
        if (operations.running >= options.maxOperationsPerSocket) {
          // A client that ignores as many refusals as it may run operations is flooding: what it sends
          // from now on is dropped unread, and once the refusals so far are out it is closed (1008
          // Policy Violation).
          if (++operations.refusedInARow > options.maxOperationsPerSocket && !operations.cutOff) {
            operations.cutOff = true;
            const socket = ctx.extra.socket;
            setImmediate(() => socket.close(1008, `Over ${options.maxOperationsPerSocket} operations at once (MAX_SUBSCRIPTIONS_PER_SOCKET)`));
          }
          return [
            new GraphQLError(
              `This connection already has ${options.maxOperationsPerSocket} operations running (MAX_SUBSCRIPTIONS_PER_SOCKET): complete some before starting another.`,
              { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } },
            ),
          ];
        }
        // Taken at once (the checks below wait), given back by onComplete, or below if refused.
        operations.running++;
        operations.refusedInARow = 0;
        let accepted = false;
        try {
          const args = await operationArgs(ctx, id, payload);
          accepted = !Array.isArray(args);
          return args;
        } finally {
          if (!accepted) operations.running--;
        }
      },
      onComplete: (ctx) => {
        ctx.extra.operations.running--;
      },
    },
    wsServer,
    sender,
  );

  /** The execution arguments of a subscribe message, or the errors that refuse it. */
  async function operationArgs(ctx: WsContext<Record<string, unknown>, WebSocketExtra>, id: string, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> {
    const { schema, execute: envelopedExecute, contextFactory, parse, validate } = options.yoga.getEnveloped({
      ...ctx,
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      params: payload,
    });
    let document;
    try {
      document = parse(payload.query);
    } catch (error) {
      // A syntax error or a limit passes as it is; anything else (a stack overflow) is masked.
      return [options.maskError(error) as GraphQLError];
    }
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) {
      const message = payload.operationName ? `The document has no operation named ${JSON.stringify(payload.operationName)}.` : 'The document has several operations: say which one to run with operationName.';
      return [new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })];
    }
    const isSubscription = operation.operation === 'subscription';
    const contextValue = await contextFactory();
    if (isSubscription) {
      const costErrors = options.costErrors({ schema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue });
      if (costErrors.length > 0) return [...costErrors];
    }
    const root: OperationRoot = {
      execute: envelopedExecute,
      maskError: options.maskError,
      compiled: isSubscription ? compiledSubscription(schema, document, payload.operationName, payload.query) : null,
      send: (data) => sender.send(ctx.extra.socket, data),
      id,
      signal: ctx.extra.closed,
      key: `${operationKey(payload.operationName, payload.query)}\u0000${JSON.stringify(payload.variables ?? {})}`,
    };
    return {
      schema,
      operationName: payload.operationName,
      document,
      variableValues: payload.variables,
      contextValue,
      rootValue: root,
    };
  }

  return {
    async close(): Promise<void> {
      // Events published just before (the last ones a shutdown stored) are still on their way to the
      // sockets: subscriptions take them on microtasks, and corked frames go out at the end of the turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
      handle.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/** Queued bytes on a socket past which a send waits for them to be written (backpressure). */
const SEND_HIGH_WATER_BYTES = 64 * 1024;
/** Interval of keep-alive pings; a socket that does not answer within it is dropped. */
const KEEP_ALIVE_MS = 12_000;

type WebSocketExtra = {
  socket: WebSocket;
  request: IncomingMessage;
  /** Aborted when the socket closes. */
  closed: AbortSignal;
  /**
   * Operations accepted and not yet completed on this socket, refusals since the last one accepted,
   * and whether the socket is being cut off for flooding (its messages are then dropped).
   */
  operations: { running: number; refusedInARow: number; cutOff: boolean };
};

/**
 * Writes text frames to sockets cheaply: a send returns at once, the frames of one event-loop turn go
 * out in one write (each TCP socket is corked until the turn ends), and a send waits for the kernel
 * only once a client has more than SEND_HIGH_WATER_BYTES (64 KiB) unread — which hands backpressure
 * to the subscription's own bounded buffer, so a slow client cannot grow memory.
 */
class FrameSender {
  private readonly corked = new Set<WebSocket>();
  private readonly uncorkAll = () => {
    for (const socket of this.corked) (socket as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
    this.corked.clear();
  };

  send(socket: WebSocket, data: string): Promise<void> | void {
    if (socket.readyState !== socket.OPEN) return;
    const tcp = (socket as unknown as { _socket?: { cork(): void } })._socket;
    if (tcp && !this.corked.has(socket)) {
      if (this.corked.size === 0) setImmediate(this.uncorkAll);
      tcp.cork();
      this.corked.add(socket);
    }
    if (socket.bufferedAmount < SEND_HIGH_WATER_BYTES) {
      socket.send(data);
      return;
    }
    return new Promise<void>((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
  }

  forget(socket: WebSocket): void {
    this.corked.delete(socket);
  }
}

/**
 * graphql-ws's protocol over `ws` sockets, as `graphql-ws/use/ws` does, with a cheaper way to send
 * (FrameSender): that adapter waits for every frame to be written before the next event is
 * executed, so frames are never batched and each costs a write to the kernel.
 */
function serveGraphQLOverWebSocket(options: ServerOptions<Record<string, unknown>, WebSocketExtra>, wsServer: WebSocketServer, sender: FrameSender) {
  const server = makeServer(options);

  wsServer.on('connection', (socket, request) => {
    const closed = new AbortController();
    const extra: WebSocketExtra = { socket, request, closed: closed.signal, operations: { running: 0, refusedInARow: 0, cutOff: false } };
    // A message over maxPayload: ws has already closed the socket with 1009 (Message Too Big).
    socket.once('error', () => socket.close(CloseCode.InternalServerError, 'Internal server error'));
    let alive = true;
    const keepAlive = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, KEEP_ALIVE_MS);
    socket.on('pong', () => {
      alive = true;
    });
    const opened = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => sender.send(socket, data),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (onMessage) =>
          socket.on('message', async (message) => {
            if (socket.readyState !== socket.OPEN || extra.operations.cutOff) return;
            try {
              await onMessage(String(message));
            } catch {
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      sender.forget(socket);
      closed.abort();
      void opened(code, String(reason));
    });
  });

  return {
    dispose(): void {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners('connection');
    },
  };
}
