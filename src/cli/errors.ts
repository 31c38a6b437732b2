/**
 * Exit codes and the errors the `agent-runner` command prints: every failure becomes one CliError
 * whose message says what went wrong and what to do.
 */
import { ConnectionError, GraphQLRequestError } from '../client/client.js';
import { ConfigError, type CliConfig } from '../config.js';

/** The command's exit codes (documented in README and in `agent-runner --help`). */
export const EXIT = {
  /** Done; for a watched run: it completed. */
  OK: 0,
  /** The watched run failed. */
  RUN_FAILED: 1,
  /** The watched run was stopped. */
  RUN_STOPPED: 2,
  /** The command could not do what was asked: server unreachable, token, unknown name, bad input. */
  ERROR: 3,
  /** Ctrl-C detached from a run that goes on (128 + SIGINT). */
  DETACHED: 130,
} as const;

/**
 * An error for the user. `code` is a stable word for scripts (the server's `extensions.code`, such
 * as NOT_FOUND or BAD_USER_INPUT, or UNREACHABLE, UNAUTHENTICATED, INTERNAL); printed as
 * `{"error": {code, message}}` with --json.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'BAD_USER_INPUT',
    readonly exitCode: number = EXIT.ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The hint after "cannot reach the server". */
const START_THE_SERVER = 'Is the server running? Start it with "agent-runner serve" (or npm start), or point --url / AGENT_RUNNER_URL at it.';

function tokenProblem(config: CliConfig): CliError {
  return new CliError(
    config.token === null
      ? `The server at ${config.url} needs an API token: pass --token <token> or set API_TOKEN to the server's API_TOKEN.`
      : `The server at ${config.url} refused the API token (from --token or API_TOKEN): it must be the server's API_TOKEN.`,
    'UNAUTHENTICATED',
  );
}

/** Turns anything thrown while a command ran into a CliError a user can act on. */
export function explain(error: unknown, config: CliConfig | null): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ConfigError) return new CliError(error.message, 'BAD_USER_INPUT');
  if (error instanceof ConnectionError) {
    if (error.code === 4403 && config) return tokenProblem(config);
    if (error.answered) return new CliError(`${error.message}: is ${error.url} an agent-runner server? Check --url / AGENT_RUNNER_URL.`, 'UNREACHABLE');
    return new CliError(`${error.message}. ${START_THE_SERVER}`, 'UNREACHABLE');
  }
  if (error instanceof GraphQLRequestError) {
    if (error.code === 'UNAUTHENTICATED' && config) return tokenProblem(config);
    return new CliError(error.errors.map((e) => e.message).join('\n'), error.code ?? 'BAD_USER_INPUT');
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`Unexpected error: ${message}`, 'INTERNAL');
}
