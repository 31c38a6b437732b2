import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { agentDefaults, type Config } from './config.js';
import type { Context, Services } from './context.js';
import { WalCheckpointer } from './db/checkpointer.js';
import { DatabaseLock } from './db/lock.js';
import { databaseNamespace, describeDatabaseUrl, initORM, initPostgresORM } from './db/orm.js';
import { QueueListener } from './db/queue-listener.js';
import { SqlStore } from './db/store.js';
import { LeaseKeeper } from './engine/lease-keeper.js';
import { RedisBus, describeRedisUrl } from './cluster/redis.js';
import { EventLog } from './engine/event-log.js';
import { killAllProcessGroups } from './engine/processes.js';
import { PubSub } from './engine/pubsub.js';
import { RunController, type RunControllerDeps } from './engine/run-control.js';
import { createCommandLauncher } from './engine/sandbox.js';
import type { Logger } from './engine/runner.js';
import { stopSpawner } from './engine/spawner/spawner.js';
import { loadStepTypes } from './engine/steps/custom.js';
import { BUILT_IN_STEP_KINDS, StepKinds } from './engine/steps/registry.js';
import { Worker } from './engine/worker.js';
import { WorkflowRegistry, builtInSources, describeProblem, type WorkflowSpec } from './engine/workflows/registry.js';
import { workflowFileSchema } from './engine/workflows/schema.js';
import { UserError } from './errors.js';
import { isArtifactPath, serveArtifactDownload } from './http/artifacts.js';
import { serveConsole } from './http/console.js';
import { ArtifactLinks } from './http/download-links.js';
import { nestingOverflowError, operationCostErrors, queryLimitPlugins } from './http/query-limits.js';
import { refuseForeignRequest, refuseGraphQLBody, type Refusal } from './http/request-guard.js';
import { bearerMatches, requestAuthorized } from './http/token.js';
import { attachGraphQLWebSocket } from './http/websocket.js';
import { schema } from './schema/index.js';
import { workspaceRulesOf } from './services/projects.js';

export interface App {
  /** Listens on the configured host and port (0 picks a free one); resolves with the base URL. */
  start(): Promise<string>;
  /**
   * Stops taking runs, lets running steps finish for up to SHUTDOWN_GRACE_SECONDS (runs cut off are
   * continued by crash recovery at the next start), then closes sockets and the database.
   */
  stop(): Promise<void>;
  /** Base URL once started, such as http://127.0.0.1:8000. */
  readonly url: string;
  readonly services: Services;
  /** In-process requests, for tests: `app.fetch('http://x/graphql', init)`. */
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

export interface AppOptions {
  /** Workflows written in code, registered beside the built-in ones and WORKFLOWS_DIR's (tests, embedders). */
  workflows?: readonly WorkflowSpec[];
  logger?: Logger;
}

export function createLogger(level: Config['logLevel']): Logger {
  if (level === 'silent') return { info: () => {}, error: () => {} };
  const stamp = () => new Date().toISOString();
  return {
    info: (message) => console.log(`${stamp()} ${message}`),
    error: (message, error) => console.error(`${stamp()} ERROR ${message}`, error ?? ''),
  };
}

/** With several instances, how long a live subscriber that heard nothing waits before reading the database: with Redis (a lost message) and without it (no other way to hear of events written elsewhere), in ms. */
const LIVE_CHECK_WITH_REDIS_MS = 2000;
const LIVE_CHECK_WITHOUT_REDIS_MS = 500;

/** Where the JSON Schema of workflow definition files is served. */
export const WORKFLOW_SCHEMA_PATH = '/schemas/workflow.json';

const UNAUTHENTICATED_MESSAGE = 'Missing or wrong API token: send the header "Authorization: Bearer <API_TOKEN>" (over WebSocket: connection_init payload {"authorization": "Bearer <API_TOKEN>"}).';

/**
 * User errors keep their message and get their code; GraphQL's own errors (syntax, validation,
 * variables) pass as they are; anything else is logged and replaced, so no internal detail or stack
 * trace reaches a client.
 */
function maskError(logger: Logger) {
  return (error: unknown): Error => {
    const located = isGraphQLError(error) ? error : undefined;
    const overflow = nestingOverflowError(error);
    if (overflow) return overflow;
    const userError = findUserError(error);
    if (userError) {
      return new GraphQLError(userError.message, { nodes: located?.nodes, path: located?.path, extensions: { ...userError.extensions, code: userError.code } });
    }
    if (located && (!located.originalError || isGraphQLError(located.originalError))) {
      // GraphQL's own refusals (syntax, validation, variable coercion) are about the request.
      if (located.extensions?.code) return located;
      return new GraphQLError(located.message, { nodes: located.nodes, source: located.source, positions: located.positions, path: located.path, extensions: { ...located.extensions, code: 'BAD_USER_INPUT' } });
    }
    logger.error('internal error in a GraphQL operation', located?.originalError ?? error);
    return new GraphQLError('Internal server error: the operation could not be completed. The server log has the details.', {
      nodes: located?.nodes,
      path: located?.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}

/** By name as well as class: graphql can be loaded twice (its ESM and CommonJS builds). */
function isGraphQLError(value: unknown): value is GraphQLError {
  return value instanceof GraphQLError || (value instanceof Error && value.name === 'GraphQLError');
}

function findUserError(error: unknown): UserError | null {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = (current as GraphQLError).originalError, depth++) {
    if (current instanceof UserError) return current;
  }
  return null;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** A refused request's answer: a GraphQL result with the code on /graphql, `{ error, code }` elsewhere. */
function sendRefusal(res: ServerResponse, path: string, refusal: Refusal): void {
  const body = path === '/graphql' ? { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] } : { error: refusal.message, code: refusal.code };
  res.writeHead(refusal.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(JSON.stringify(body));
}

/**
 * Builds the server: database (migrated), event log, worker, GraphQL over HTTP, SSE and WebSocket on
 * one port. Nothing listens until `start()`.
 */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // First: with SANDBOX=on and no sandbox, nothing is opened.
  const commands = await createCommandLauncher({
    setting: config.sandbox,
    databasePath: config.databasePath,
    homeFolders: config.homeFolders,
    mavenDir: config.sandboxM2Dir,
    hiddenPaths: config.sandboxHiddenPaths,
  });
  const busyTimeoutMs = config.databaseBusyTimeoutSeconds * 1000;
  let lock: DatabaseLock | null = null;
  let checkpointer: WalCheckpointer | null = null;
  let store: SqlStore;
  let orm: { close(force?: boolean): Promise<void> };
  /** With DATABASE_URL: the database's name on Redis (databaseNamespace). */
  let namespace = '';
  if (config.databaseUrl) {
    // PostgreSQL: any number of instances share the database; leases, not a file lock, keep each run to one.
    const pgOrm = await initPostgresORM(config.databaseUrl, logger.info, { leaseSeconds: config.leaseSeconds });
    orm = pgOrm;
    namespace = await databaseNamespace(pgOrm);
    store = new SqlStore(pgOrm, { busyTimeoutMs, postgres: { instanceId: config.instanceId, labels: config.workerLabels, leaseSeconds: config.leaseSeconds } });
    logger.info(`database ${describeDatabaseUrl(config.databaseUrl)}: instance ${config.instanceId}, labels [${config.workerLabels.join(', ')}], leases of ${config.leaseSeconds} s`);
  } else {
    // Before anything reads or migrates the database: a second server on it would recover the first one's live runs.
    const fileLock = await DatabaseLock.acquire(config.databasePath);
    lock = fileLock;
    const sqliteOrm = await initORM(config.databasePath, logger.info, { busyTimeoutMs }).catch(async (error: unknown) => {
      await fileLock.release();
      throw error;
    });
    orm = sqliteOrm;
    checkpointer = await WalCheckpointer.start(config.databasePath, (error) => logger.error('database checkpoint failed', error));
    store = new SqlStore(sqliteOrm as never, { busyTimeoutMs });
  }
  const pubsub = new PubSub((error) => logger.error('a subscriber failed', error));
  const eventLog = new EventLog(store, pubsub);
  // Step types first: definitions are checked against them.
  const stepTypes = await loadStepTypes(config.stepTypesDir, new Set([...Object.keys(BUILT_IN_STEP_KINDS), 'CUSTOM']));
  const kinds = new StepKinds(stepTypes.kinds);
  for (const { file, problems } of stepTypes.problems) logger.error(`step type module ${file} was not loaded: ${problems.map((p) => p.message).join('; ')}`);
  const workflows = new WorkflowRegistry([...builtInSources(), ...(options.workflows ?? [])]);
  await workflows.open(store, kinds);
  await workflows.loadDirectory(config.workflowsDir);
  for (const { file, problems } of workflows.loadProblems()) logger.error(`workflow file ${file} was not loaded: ${problems.map(describeProblem).join('; ')}`);
  // Says where WORKFLOWS_DIR is (a relative one is the server's working folder's) and what it holds now.
  const listed = workflows.list().map((w) => `${w.definition.name} ${w.definition.version}`);
  logger.info(`workflows (definition files from ${resolvePath(config.workflowsDir)}): ${listed.join(', ')}`);
  const runnerDeps: RunControllerDeps = {
    store,
    eventLog,
    pubsub,
    workflows,
    kinds,
    settings: {
      ollamaBaseUrl: config.ollamaBaseUrl,
      heartbeatMs: config.llmHeartbeatMs,
      coalesceMs: config.streamCoalesceMs,
      coalesceBytes: config.streamCoalesceBytes,
      outputCapBytes: config.commandOutputLimitBytes,
      killGraceMs: config.killGraceMs,
      commands,
    },
    shellTimeoutSeconds: config.shellTimeoutSeconds,
    maxParallelSteps: config.maxParallelSteps,
    stepModels: config.stepModels,
    agentDefaults: agentDefaults(config),
    logger,
    workspaceRules: workspaceRulesOf(config),
  };
  // Redis: live events and run control between instances. Stop and pause reach `control` through it.
  let control: RunController | null = null;
  const redis = config.redisUrl
    ? await RedisBus.connect(config.redisUrl, config.instanceId, namespace, pubsub, logger, (runId, request) => control?.applyRequest(runId, request)).catch(async (error: unknown) => {
        await orm.close(true);
        throw error;
      })
    : null;
  if (config.databaseUrl) {
    // Other instances write events too: a live subscriber here fills gaps from the database, and
    // reads it when it hears nothing for a while (without Redis, that is how it follows runs elsewhere).
    pubsub.lossy = {
      idleCheckMs: redis ? LIVE_CHECK_WITH_REDIS_MS : LIVE_CHECK_WITHOUT_REDIS_MS,
      onGap: (runId, fromSeq, toSeq) => {
        if (redis) logger.info(`run ${runId}: events ${fromSeq}..${toSeq} missed live (lost between instances), read from the database`);
      },
    };
  }
  if (redis) {
    runnerDeps.controlBus = { publish: (runId, request) => redis.publishControl(runId, request) };
    logger.info(`redis ${describeRedisUrl(config.redisUrl!)}: live events and run control across instances`);
  }
  control = new RunController(runnerDeps);
  const worker = new Worker(runnerDeps, control, {
    enabled: !config.disableWorker,
    concurrency: config.workerConcurrency,
    checkIntervalSeconds: config.workerCheckIntervalSeconds,
  });
  const leaseKeeper = store.leases ? new LeaseKeeper(store.leases, control, logger, () => worker.notify()) : null;
  let queueListener: QueueListener | null = null;
  const artifactLinks = new ArtifactLinks(config.apiToken, config.artifactLinkTtlSeconds);
  const services: Services = { config, store, eventLog, pubsub, worker, control, workflows, kinds, stepTypeProblems: stepTypes.problems, logger, artifactLinks };

  const authPlugin: Plugin = {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!config.apiToken) return;
      // The GraphiQL page itself holds no data; the operations it sends carry the token.
      const wantsGraphiQL = request.method === 'GET' && !url.searchParams.has('query') && (request.headers.get('accept') ?? '').includes('text/html');
      if (wantsGraphiQL || bearerMatches(config.apiToken, request.headers.get('authorization'))) return;
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message: UNAUTHENTICATED_MESSAGE, extensions: { code: 'UNAUTHENTICATED' } }] }), {
          status: 401,
          headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer' },
        }),
      );
    },
  };

  // Execution stops resolving fields once the client has gone: over HTTP the request's signal (aborted
  // when its connection closes), over WebSocket the socket's, which the adapter sets (yoga's own
  // useExecutionCancellation would overwrite that one: WebSocket operations have no request).
  const cancelWhenClientGone: Plugin<{ request?: Request }> = {
    onExecute({ args }) {
      (args as { signal?: AbortSignal }).signal ??= args.contextValue.request?.signal;
    },
    onSubscribe({ args }) {
      (args as { signal?: AbortSignal }).signal ??= args.contextValue.request?.signal;
    },
  };

  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    context: () => ({ services }),
    graphiql: { title: 'agent-runner', subscriptionsProtocol: 'WS' },
    // Loaded on the first visit: the page inlines GraphiQL's assets (it works offline), some 80 MB in memory.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    landingPage: false,
    maskedErrors: { maskError: maskError(logger) },
    // Only configured origins get CORS headers, and never credentials (the API uses a bearer token, not cookies).
    cors: config.allowedOrigins.length > 0 ? { origin: config.allowedOrigins, credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'accept'] } : false,
    // Multipart (file uploads) is a body any web page can send cross-site without a preflight; nothing here uploads.
    multipart: false,
    plugins: [authPlugin, ...queryLimitPlugins(config), cancelWhenClientGone as Plugin],
    logging: config.logLevel === 'silent' ? false : 'warn',
  });

  /** What /ready answers: the database and (when configured) Redis, each `ok` or why not. */
  async function readiness(): Promise<{ ok: boolean; body: Record<string, unknown> }> {
    const check = (work: Promise<unknown>) => work.then(() => 'ok', (error: unknown) => (error as Error).message);
    const [database, redisState] = await Promise.all([check(store.ping()), redis ? check(redis.ping()) : Promise.resolve(null)]);
    const problems: string[] = [];
    if (database !== 'ok') problems.push(`Database not reachable: ${database}`);
    if (redisState !== null && redisState !== 'ok') problems.push(`Redis not reachable: ${redisState} (live events between instances wait for it; runs go on)`);
    const body: Record<string, unknown> = {
      status: problems.length === 0 ? 'ready' : 'unavailable',
      database: { kind: config.databaseUrl ? 'postgresql' : 'sqlite', status: database },
      redis: redis ? { status: redisState } : null,
      instance: config.databaseUrl ? { id: config.instanceId, labels: config.workerLabels } : null,
    };
    if (problems.length > 0) body.error = problems.join('; ');
    return { ok: problems.length === 0, body };
  }

  const guard = { allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins };
  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const refusal = refuseForeignRequest(req.headers, guard) ?? (path === '/graphql' ? refuseGraphQLBody(req.method, req.headers, config.maxRequestBytes) : null);
    if (refusal) return sendRefusal(res, path, refusal);
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready') {
      if (!requestAuthorized(config.apiToken, req)) {
        return sendJson(res, 401, { status: 'unauthenticated', error: UNAUTHENTICATED_MESSAGE });
      }
      void readiness().then(({ ok, body }) => sendJson(res, ok ? 200 : 503, body));
      return;
    }
    if (path === '/graphql') return void yoga.requestListener(req, res);
    // The JSON Schema of workflow definition files, with this server's step types (custom ones too).
    if (path === WORKFLOW_SCHEMA_PATH && (req.method === 'GET' || req.method === 'HEAD')) return sendJson(res, 200, workflowFileSchema(kinds.list()));
    if (isArtifactPath(path)) return void serveArtifactDownload(req, res, services);
    const notFound = () => sendJson(res, 404, { error: `Nothing at ${path}. The console is at /, the GraphQL API and GraphiQL at /graphql; /health and /ready report status.` });
    if (req.method === 'GET' || req.method === 'HEAD') return void serveConsole(req, res, config.consoleDir, notFound);
    notFound();
  });

  const webSocket = attachGraphQLWebSocket({
    httpServer,
    yoga,
    // Refusing closes the socket with 4403 Forbidden.
    authorize: (connectionParams) => !config.apiToken || bearerMatches(config.apiToken, connectionParams?.authorization),
    maskError: maskError(logger),
    refuseUpgrade: (request) => refuseForeignRequest(request.headers, guard),
    maxMessageBytes: config.maxRequestBytes,
    maxOperationsPerSocket: config.maxSubscriptionsPerSocket,
    costErrors: (args) => operationCostErrors(args, config.maxQueryCost),
  });

  let url = '';
  let stopping: Promise<void> | null = null;

  return {
    get url() {
      return url;
    },
    services,
    fetch: (input, init = {}) => Promise.resolve(yoga.fetch(new URL(input), init)),
    async start() {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${host}:${address.port}`;
      // Before any run is taken: no run may stay RUNNING with no process working on it.
      await control.recover();
      if (config.databaseUrl) {
        queueListener = await QueueListener.start(config.databaseUrl, () => worker.notify(), (error) => logger.error('queue notifications: connection lost; polling meanwhile', error));
      }
      leaseKeeper?.start();
      worker.start();
      return url;
    },
    stop() {
      stopping ??= (async () => {
        await queueListener?.stop();
        await worker.stop(config.shutdownGraceSeconds * 1000);
        await leaseKeeper?.stop();
        await store.leases?.leave().catch((error: unknown) => logger.error('could not remove this instance from the live list', error));
        // What the runs recorded up to here reaches the live subscribers before their sockets close.
        await eventLog.flush();
        await webSocket.close();
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeAllConnections();
        if (httpServer.listening) await closed;
        await eventLog.flush();
        await checkpointer?.stop();
        await redis?.close();
        await orm.close(true);
        killAllProcessGroups();
        await stopSpawner();
        await lock?.release();
      })();
      return stopping;
    },
  };
}
