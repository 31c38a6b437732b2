/**
 * Configuration, read in one place. `loadConfig(env)` is the only reader of environment variables;
 * everything else is given a `Config`. Tests pass their own values instead of mutating `process.env`.
 */
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import path, { isAbsolute, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_OPTION_RANGES, type AgentDefaults } from './engine/agent/settings.js';
import { SANDBOX_SETTINGS, type SandboxSetting } from './engine/types.js';
import { isLoopbackHost } from './http/request-guard.js';

export interface Config {
  /** Port the HTTP and WebSocket server listens on (8000, as the seed). `PORT`; 0 picks a free port. */
  port: number;
  /** Interface to listen on (127.0.0.1: this server runs shell commands for whoever can reach it). `HOST` */
  host: string;
  /** SQLite database file (./data/agent-runner.db; its folder is created on first start). `DATABASE_PATH` */
  databasePath: string;
  /**
   * PostgreSQL instead of the SQLite file: several server instances then share one database and its
   * queue (unset: SQLite at DATABASE_PATH, one server). `DATABASE_URL`, `postgres://user:password@host:5432/db`
   */
  databaseUrl: string | null;
  /**
   * Redis for live events and run control across instances (unset: in-process only). Only with
   * DATABASE_URL. `REDIS_URL`, `redis://host:6379` (`rediss://` for TLS)
   */
  redisUrl: string | null;
  /**
   * Labels this instance offers (none): it claims only runs whose required labels (the project's
   * and the run's) it has all of. `WORKER_LABELS`, comma-separated (`gpu,maven`)
   */
  workerLabels: string[];
  /**
   * With DATABASE_URL: how long a claimed run's lease lasts without renewal, in seconds (15). The
   * executing instance renews it every third of that; another instance takes over a run whose lease
   * expired (its instance died or hung) within about this time plus a second. `LEASE_SECONDS`
   */
  leaseSeconds: number;
  /** This instance's name in leases and logs (host name, process id and a random suffix). `INSTANCE_ID` */
  instanceId: string;
  /** When set, every request needs `Authorization: Bearer <token>` (unset). `API_TOKEN` */
  apiToken: string | null;
  /**
   * Host names, besides loopback ones and IP addresses, that requests may be addressed to (none).
   * `ALLOWED_HOSTS`, comma-separated (`runner.example.com,build-box`); `*` turns the check off.
   */
  allowedHosts: string[];
  /**
   * Web origins, besides the server's own, whose pages may call the API and open its WebSocket; only
   * these get CORS headers, never with credentials (none). `ALLOWED_ORIGINS`, comma-separated
   * (`https://console.example.com`).
   */
  allowedOrigins: string[];
  /**
   * Lets the server start on a non-loopback `HOST` without `API_TOKEN`, open to everyone who can reach
   * it (false). `ALLOW_REMOTE_WITHOUT_TOKEN`
   */
  allowRemoteWithoutToken: boolean;
  /** How long a signed artifact download link (`Artifact.downloadUrl`) stays valid, in seconds (300). `ARTIFACT_LINK_TTL_SECONDS` */
  artifactLinkTtlSeconds: number;
  /** Largest GraphQL request accepted: an HTTP body or a WebSocket message, in bytes (262144). `MAX_REQUEST_BYTES` */
  maxRequestBytes: number;
  /** Deepest field nesting of an operation, fragments flattened (8). `MAX_QUERY_DEPTH` */
  maxQueryDepth: number;
  /** Aliases in one operation (15). `MAX_QUERY_ALIASES` */
  maxQueryAliases: number;
  /** Lexical tokens in one document (1000). `MAX_QUERY_TOKENS` */
  maxQueryTokens: number;
  /** Directives in one operation (50). `MAX_QUERY_DIRECTIVES` */
  maxQueryDirectives: number;
  /**
   * Estimated values an operation may resolve: each field costs 1 and a list multiplies what it
   * selects by its `first` argument (or its size estimate), so `events(first: 10000) { seq type }`
   * costs 20001 (100000). `MAX_QUERY_COST`
   */
  maxQueryCost: number;
  /** Operations one WebSocket may have running at once (100). `MAX_SUBSCRIPTIONS_PER_SOCKET` */
  maxSubscriptionsPerSocket: number;
  /** Where Ollama listens (http://localhost:11434). `OLLAMA_BASE_URL` */
  ollamaBaseUrl: string;
  /** LLM step timeout in seconds unless the step or the run says otherwise (300). `OLLAMA_TIMEOUT_SECONDS` */
  ollamaTimeoutSeconds: number;
  /**
   * Model overrides by step name, from `OLLAMA_<STEP>_MODEL` (e.g. `OLLAMA_PLANNER_MODEL` → `planner`).
   * They beat the workflow's default and lose to a run's own `options.models`.
   */
  stepModels: Record<string, string>;
  /** Shell and Maven step timeout in seconds unless the step says otherwise (600, as the seed). `SHELL_TIMEOUT_SECONDS` */
  shellTimeoutSeconds: number;
  /** Turns the in-process worker off (false). `DISABLE_WORKER` */
  disableWorker: boolean;
  /** Seconds between polls of the queue; new runs start at once regardless (5). `WORKER_CHECK_INTERVAL` */
  workerCheckIntervalSeconds: number;
  /** Runs executed at once (2). `WORKER_CONCURRENCY` */
  workerConcurrency: number;
  /** Interval of LLM_HEARTBEAT events while a model sends no text (loading, or a pause mid-answer), in ms (15000). `LLM_HEARTBEAT_MS` */
  llmHeartbeatMs: number;
  /** LLM_TOKEN / SHELL_OUTPUT events are flushed this often, in ms (100) … `STREAM_COALESCE_MS` */
  streamCoalesceMs: number;
  /** … or once this many bytes wait (4096). `STREAM_COALESCE_BYTES` */
  streamCoalesceBytes: number;
  /** Grace between SIGTERM and SIGKILL when a command's process group is killed, in ms (5000). `KILL_GRACE_MS` */
  killGraceMs: number;
  /** On SIGTERM, how long running steps may finish before they are cut off and left to crash recovery (10). `SHUTDOWN_GRACE_SECONDS` */
  shutdownGraceSeconds: number;
  /** Steps of one run that may run at once, whatever a workflow's maxParallel says (8). `MAX_PARALLEL_STEPS` */
  maxParallelSteps: number;
  /**
   * Whether shell and Maven commands run in a bubblewrap sandbox (auto): `auto` uses it when `bwrap`
   * works here and otherwise runs them unsandboxed with a warning; `on` refuses to start without it;
   * `off` never uses it. `SANDBOX`
   */
  sandbox: SandboxSetting;
  /** The folder sandboxed commands get as `~/.m2` (the Maven repository), instead of the user's own (`sandbox-m2` next to the database). `SANDBOX_M2_DIR` */
  sandboxM2Dir: string;
  /** More files or folders hidden from sandboxed commands, besides the database folder and the usual credential files (none). `SANDBOX_HIDE`, separated by commas */
  sandboxHiddenPaths: string[];
  /** A command's output stored per stream: the first half and the last half of this many bytes; the rest is dropped and counted (1048576). `COMMAND_OUTPUT_LIMIT_BYTES` */
  commandOutputLimitBytes: number;
  /** Folder of workflow definition files (*.yaml, *.yml, *.json) loaded at start; created if missing (./workflows). `WORKFLOWS_DIR` */
  workflowsDir: string;
  /** Folder of custom step type modules (*.mjs, *.js, *.ts) loaded at start (./step-types; none if missing). `STEP_TYPES_DIR` */
  stepTypesDir: string;
  /**
   * How long a statement waits for a busy database (another process writing to the file, or the
   * server's one connection held by a long query) before it fails, in seconds (60). Waited out in
   * short tries, so reads get the connection in between. An event that still cannot be stored fails
   * its step, and so its run, with the reason. `DATABASE_BUSY_TIMEOUT_SECONDS`
   */
  databaseBusyTimeoutSeconds: number;
  /** An agent's model calls at most, unless the run or the step says otherwise (40). `AGENT_MAX_ITERATIONS` */
  agentMaxIterations: number;
  /** An agent's total time in seconds, unless the run or the step says otherwise (1800). `AGENT_TIMEOUT_SECONDS` */
  agentTimeoutSeconds: number;
  /** An agent's prompt plus output tokens at most, summed over its turns (400000). `AGENT_TOKEN_BUDGET` */
  agentTokenBudget: number;
  /** The context window (`num_ctx`) an agent asks Ollama for, in tokens (32768). `AGENT_NUM_CTX` */
  agentNumCtx: number;
  /** Characters of a tool's result sent back to an agent's model; the rest is cut with a note (12000). `AGENT_TOOL_RESULT_MAX_CHARS` */
  agentToolResultMaxChars: number;
  /** Log level: `info` prints start-up and run lifecycle lines, `silent` nothing (info). `LOG_LEVEL` */
  logLevel: 'info' | 'silent';
  /** The built web console served at `/` (this repository's console/dist; `npm start` builds it). Tests override it. */
  consoleDir: string;
  /**
   * Folders under which every project folder must lie; empty: anywhere the workspace rules allow
   * (unset). `WORKSPACE_ROOTS`, absolute paths separated by commas.
   */
  workspaceRoots: string[];
  /**
   * The home folders no project folder may be, contain, or reach into for credentials (~/.ssh …):
   * `HOME` and the account's home from the system's user database. Tests override it.
   */
  homeFolders: string[];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected a whole number from ${min} to ${max}.`);
  }
  return value;
}

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected a number of seconds greater than 0.`);
  }
  return value;
}

function nonNegativeNumber(env: Env, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected a number of seconds, 0 or more.`);
  }
  return value;
}

/** A URL with one of `protocols` (such as `postgres:`), or null when unset. */
function serviceUrl(env: Env, name: string, protocols: readonly string[], example: string): string | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (!url || !protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} is invalid: expected a URL such as ${example} (scheme ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}).`);
  }
  return raw;
}

/** Labels: lower-case letters, digits, `.`, `_`, `-`. */
const LABEL = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Most placement labels in one list (a machine's WORKER_LABELS, a project's or a run's requiredLabels). */
export const MAX_LABELS = 64;

/** Bad labels quoted in an error, each cut to this many characters: the message stays short whatever a client sends. */
const BAD_LABELS_QUOTED = 5;
const BAD_LABEL_CHARS = 40;

/**
 * Checks placement labels (from a variable or an API argument); returns them sorted, without repeats,
 * or throws a ConfigError saying what is wrong: a label that is not 1 to 63 of `a-z 0-9 . _ -`, or
 * more than MAX_LABELS different labels. The message quotes at most a few bad labels, cut short.
 */
export function normalizeLabels(labels: readonly string[], where: string): string[] {
  const bad = labels.filter((label) => !LABEL.test(label));
  if (bad.length > 0) {
    const quoted = bad.slice(0, BAD_LABELS_QUOTED).map((b) => JSON.stringify(b.length > BAD_LABEL_CHARS ? `${b.slice(0, BAD_LABEL_CHARS - 1)}…` : b));
    const more = bad.length > BAD_LABELS_QUOTED ? ` and ${bad.length - BAD_LABELS_QUOTED} more` : '';
    throw new ConfigError(`${where} has ${quoted.join(', ')}${more}: a label is 1 to 63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (such as gpu, maven, host-a).`);
  }
  const unique = [...new Set(labels)].sort();
  if (unique.length > MAX_LABELS) {
    throw new ConfigError(`${where} has ${unique.length} labels: at most ${MAX_LABELS} are allowed. A label names what a machine has (gpu, maven, host-a); use fewer, broader ones.`);
  }
  return unique;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected true or false.`);
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected an http(s) URL such as ${fallback}.`);
  }
  return raw.replace(/\/+$/, '');
}

/** A comma-separated list, entries trimmed, empty ones ignored. */
function list(env: Env, name: string): string[] {
  return (read(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Host names without port, lower-cased; `*` allows every host. */
function hostList(env: Env, name: string): string[] {
  return list(env, name).map((host) => {
    const lower = host.toLowerCase().replace(/\.$/, '');
    if (lower !== '*' && !isIP(lower.replace(/^\[|\]$/g, '')) && !/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(lower)) {
      throw new ConfigError(`${name} has ${JSON.stringify(host)}: expected host names without scheme or port, such as runner.example.com, separated by commas (or * for any).`);
    }
    return lower.replace(/^\[|\]$/g, '');
  });
}

/** Web origins (`scheme://host[:port]`), as browsers send them in `Origin`. */
function originList(env: Env, name: string): string[] {
  return list(env, name).map((origin) => {
    let url: URL | null = null;
    try {
      url = new URL(origin);
    } catch {
      // reported below
    }
    const bare = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if (!url || !bare || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError(`${name} has ${JSON.stringify(origin)}: expected origins such as https://console.example.com (scheme, host and port only), separated by commas.`);
    }
    return url.origin;
  });
}

/** A comma-separated list of absolute folders (empty entries ignored), normalised. */
function absoluteFolders(env: Env, name: string): string[] {
  const folders = list(env, name);
  for (const folder of folders) {
    if (!isAbsolute(folder) || folder.includes('\0')) {
      throw new ConfigError(`${name}=${JSON.stringify(read(env, name))} is invalid: expected absolute folders separated by commas, such as /home/me/projects,/srv/agent-runner.`);
    }
  }
  return folders.map((folder) => normalize(folder).replace(/(.)\/+$/, '$1'));
}

/** The server user's home folders: `HOME` and the account's own (they differ under sudo or a service manager). */
function homeFolders(env: Env): string[] {
  const folders = new Set<string>();
  const fromEnv = read(env, 'HOME');
  if (fromEnv !== undefined && isAbsolute(fromEnv)) folders.add(normalize(fromEnv));
  try {
    folders.add(userInfo().homedir);
  } catch {
    // No entry in the user database (some containers): HOME is all there is.
  }
  return [...folders];
}

const STEP_MODEL_VARIABLE = /^OLLAMA_([A-Z0-9_]+)_MODEL$/;

/** Step models from `OLLAMA_<STEP>_MODEL`; the step name is the lower-cased middle (`MAVEN_TEST` → `maven_test`). */
function stepModels(env: Env): Record<string, string> {
  const models: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const match = STEP_MODEL_VARIABLE.exec(name);
    const value = read(env, name);
    if (match && value !== undefined) models[match[1].toLowerCase()] = value;
  }
  return models;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase() as T;
  if (!values.includes(value)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected ${values.join(', ')}.`);
  return value;
}

/** The server's defaults for agent steps, from the configuration. */
export function agentDefaults(config: Config): AgentDefaults {
  return {
    maxIterations: config.agentMaxIterations,
    timeoutSeconds: config.agentTimeoutSeconds,
    tokenBudget: config.agentTokenBudget,
    numCtx: config.agentNumCtx,
    toolResultMaxChars: config.agentToolResultMaxChars,
  };
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const logLevel = read(env, 'LOG_LEVEL') ?? 'info';
  if (logLevel !== 'info' && logLevel !== 'silent') {
    throw new ConfigError(`LOG_LEVEL=${JSON.stringify(logLevel)} is invalid: expected info or silent.`);
  }
  const base: Omit<Config, 'sandboxM2Dir'> = {
    port: integer(env, 'PORT', 8000, 0, 65535),
    host: read(env, 'HOST') ?? '127.0.0.1',
    databasePath: read(env, 'DATABASE_PATH') ?? './data/agent-runner.db',
    databaseUrl: serviceUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/agent_runner'),
    redisUrl: serviceUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
    workerLabels: normalizeLabels(list(env, 'WORKER_LABELS'), 'WORKER_LABELS'),
    leaseSeconds: integer(env, 'LEASE_SECONDS', 15, 1, 3600),
    instanceId: read(env, 'INSTANCE_ID') ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    apiToken: read(env, 'API_TOKEN') ?? null,
    allowedHosts: hostList(env, 'ALLOWED_HOSTS'),
    allowedOrigins: originList(env, 'ALLOWED_ORIGINS'),
    allowRemoteWithoutToken: boolean(env, 'ALLOW_REMOTE_WITHOUT_TOKEN', false),
    artifactLinkTtlSeconds: integer(env, 'ARTIFACT_LINK_TTL_SECONDS', 300, 1, 86_400),
    maxRequestBytes: integer(env, 'MAX_REQUEST_BYTES', 262_144, 1024, 104_857_600),
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 8, 1, 1000),
    maxQueryAliases: integer(env, 'MAX_QUERY_ALIASES', 15, 0, 100_000),
    maxQueryTokens: integer(env, 'MAX_QUERY_TOKENS', 1000, 10, 1_000_000),
    maxQueryDirectives: integer(env, 'MAX_QUERY_DIRECTIVES', 50, 0, 100_000),
    maxQueryCost: integer(env, 'MAX_QUERY_COST', 100_000, 1, 1_000_000_000),
    maxSubscriptionsPerSocket: integer(env, 'MAX_SUBSCRIPTIONS_PER_SOCKET', 100, 1, 100_000),
    ollamaBaseUrl: httpUrl(env, 'OLLAMA_BASE_URL', 'http://localhost:11434'),
    ollamaTimeoutSeconds: positiveNumber(env, 'OLLAMA_TIMEOUT_SECONDS', 300),
    stepModels: stepModels(env),
    shellTimeoutSeconds: positiveNumber(env, 'SHELL_TIMEOUT_SECONDS', 600),
    disableWorker: boolean(env, 'DISABLE_WORKER', false),
    workerCheckIntervalSeconds: positiveNumber(env, 'WORKER_CHECK_INTERVAL', 5),
    workerConcurrency: integer(env, 'WORKER_CONCURRENCY', 2, 1, 64),
    llmHeartbeatMs: integer(env, 'LLM_HEARTBEAT_MS', 15_000, 10, 3_600_000),
    streamCoalesceMs: integer(env, 'STREAM_COALESCE_MS', 100, 0, 60_000),
    streamCoalesceBytes: integer(env, 'STREAM_COALESCE_BYTES', 4096, 1, 1_048_576),
    killGraceMs: integer(env, 'KILL_GRACE_MS', 5000, 0, 600_000),
    shutdownGraceSeconds: nonNegativeNumber(env, 'SHUTDOWN_GRACE_SECONDS', 10),
    maxParallelSteps: integer(env, 'MAX_PARALLEL_STEPS', 8, 1, 100),
    sandbox: oneOf(env, 'SANDBOX', SANDBOX_SETTINGS, 'auto'),
    sandboxHiddenPaths: absoluteFolders(env, 'SANDBOX_HIDE'),
    commandOutputLimitBytes: integer(env, 'COMMAND_OUTPUT_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    workflowsDir: read(env, 'WORKFLOWS_DIR') ?? './workflows',
    stepTypesDir: read(env, 'STEP_TYPES_DIR') ?? './step-types',
    databaseBusyTimeoutSeconds: positiveNumber(env, 'DATABASE_BUSY_TIMEOUT_SECONDS', 60),
    agentMaxIterations: integer(env, 'AGENT_MAX_ITERATIONS', 40, ...AGENT_OPTION_RANGES.maxIterations),
    agentTimeoutSeconds: integer(env, 'AGENT_TIMEOUT_SECONDS', 1800, ...AGENT_OPTION_RANGES.timeoutSeconds),
    agentTokenBudget: integer(env, 'AGENT_TOKEN_BUDGET', 400_000, ...AGENT_OPTION_RANGES.tokenBudget),
    agentNumCtx: integer(env, 'AGENT_NUM_CTX', 32_768, ...AGENT_OPTION_RANGES.numCtx),
    agentToolResultMaxChars: integer(env, 'AGENT_TOOL_RESULT_MAX_CHARS', 12_000, ...AGENT_OPTION_RANGES.toolResultMaxChars),
    logLevel,
    consoleDir: fileURLToPath(new URL('../console/dist', import.meta.url)),
    workspaceRoots: absoluteFolders(env, 'WORKSPACE_ROOTS'),
    homeFolders: homeFolders(env),
    ...overrides,
  };
  // Next to the database, wherever the overrides put it.
  const m2 = overrides.sandboxM2Dir ?? read(env, 'SANDBOX_M2_DIR') ?? path.join(path.dirname(path.resolve(base.databasePath)), 'sandbox-m2');
  const config: Config = { ...base, sandboxM2Dir: path.resolve(m2) };
  if (config.redisUrl && !config.databaseUrl) {
    throw new ConfigError('REDIS_URL is set without DATABASE_URL: Redis carries events and run control between instances that share one PostgreSQL database. Set DATABASE_URL too, or unset REDIS_URL.');
  }
  if (!isLoopbackHost(config.host) && !config.apiToken && !config.allowRemoteWithoutToken) {
    throw new ConfigError(
      `HOST=${config.host} would let anyone on the network run commands through this server without a token: set API_TOKEN, listen on 127.0.0.1, or set ALLOW_REMOTE_WITHOUT_TOKEN=true to accept that.`,
    );
  }
  return config;
}

/** What the `agent-runner` command (src/cli) needs to reach a server. Its flags beat the environment. */
export interface CliConfig {
  /** The server's base URL (http://127.0.0.1:8000, where `npm start` listens). `--url`, `AGENT_RUNNER_URL` */
  url: string;
  /** The server's API token, when it has one (unset). `--token`, `API_TOKEN` */
  token: string | null;
}

/** The command's settings: a flag given on the command line wins over its variable. Throws ConfigError for a bad URL. */
export function loadCliConfig(env: Env = process.env, flags: { url?: string; token?: string } = {}): CliConfig {
  const url = flags.url === undefined ? httpUrl(env, 'AGENT_RUNNER_URL', 'http://127.0.0.1:8000') : httpUrl({ '--url': flags.url }, '--url', 'http://127.0.0.1:8000');
  return { url, token: (flags.token === undefined ? read(env, 'API_TOKEN') : flags.token.trim() || undefined) ?? null };
}
