/**
 * The `agent-runner` command: `runCli(argv, io)` parses the command line (commander), runs the
 * command against the server through the typed client, prints what went wrong in words a user can
 * act on, and returns the exit code (see EXIT). It never ends the process itself: bin.ts does.
 */
import { Command, CommanderError } from 'commander';
import { loadCliConfig } from '../config.js';
import type { CommandHost } from './command.js';
import { COMMANDS } from './commands/index.js';
import type { CliIO } from './context.js';
import { EXIT, explain } from './errors.js';
import { printable } from './format.js';
import { packageInfo } from './package-root.js';

const OVERVIEW = `
Start and follow agent-runner runs from a terminal or a CI job.

Getting started (a server must be running: agent-runner serve, or npm start):
  $ agent-runner workflows list
  $ agent-runner projects create demo ./demo
  $ agent-runner run quarkus-bootstrap-v1 --project demo --goal "Quarkus GraphQL service" --watch

Every command has --help with examples. Outside a terminal the output is plain lines; --json gives
JSON (NDJSON for streams). Exit codes: 0 done (a watched run completed), 1 the watched run failed,
2 it was stopped, 3 the command could not do its work, 130 detached with Ctrl-C.
`;

/** The program with every command; `host` receives the exit code. */
export function createProgram(host: CommandHost): Command {
  const program = new Command('agent-runner')
    .description('the command-line client of an agent-runner server')
    .version(packageInfo().version, '-V, --version', 'print the version')
    .option('-u, --url <url>', 'the server (default: AGENT_RUNNER_URL, else http://127.0.0.1:8000)')
    .option('-t, --token <token>', "the server's API token (default: API_TOKEN)")
    .option('--json', 'machine-readable output: JSON, or NDJSON for streams')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => host.io.stdout.write(text),
      writeErr: (text) => host.io.stderr.write(text),
    })
    .showSuggestionAfterError()
    .addHelpText('after', OVERVIEW)
    .exitOverride();
  for (const register of COMMANDS) register(program, host);
  return program;
}

/** Runs one command line (without `node` and the script); resolves with the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let exitCode: number = EXIT.OK;
  const program = createProgram({ io, setExitCode: (code) => (exitCode = code) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its usage error.
      if (error.exitCode === 0) return EXIT.OK;
      if (!/help/.test(error.code)) io.stderr.write('(agent-runner --help lists the commands; agent-runner COMMAND --help shows one with examples)\n');
      return EXIT.ERROR;
    }
    const opts = program.opts<{ url?: string; token?: string; json?: boolean }>();
    let config = null;
    try {
      config = loadCliConfig(io.env, { url: opts.url, token: opts.token });
    } catch {
      // a bad --url is what is being explained
    }
    const problem = explain(error, config);
    if (opts.json) io.stderr.write(`${JSON.stringify({ error: { code: problem.code, message: problem.message } })}\n`);
    else io.stderr.write(`agent-runner: ${printable(problem.message)}\n`);
    return problem.exitCode;
  }
}
