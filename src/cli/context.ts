/**
 * What every command is given: the settings (URL, token), how to print (a terminal, plain lines or
 * JSON), a typed client made on first use, and the process's streams and Ctrl-C.
 */
import { AgentRunnerClient } from '../client/client.js';
import { loadCliConfig, type CliConfig } from '../config.js';
import { printable } from './format.js';

/** An output stream; a terminal has `isTTY`, `columns` and `rows`. */
export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

/** The process as the command sees it; tests and the entry point (src/cli/bin.ts) provide one. */
export interface CliIO {
  /** Read by commands that take `-` for a file. */
  stdin: NodeJS.ReadableStream;
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  /** Calls `listener` on Ctrl-C (SIGINT) instead of ending the process; returns a function that removes it. */
  onInterrupt(listener: () => void): () => void;
}

/** The options every command accepts (commander's optsWithGlobals()). */
export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export class CliContext {
  readonly config: CliConfig;
  /** --json: machine-readable output (one JSON document, or NDJSON for streams), no colours, no animation. */
  readonly json: boolean;
  /** Output goes to a terminal that can redraw in place (not with --json, TERM=dumb, or a pipe). */
  readonly tty: boolean;
  /** Colours are allowed (a terminal, and NO_COLOR not set). */
  readonly color: boolean;
  private clientInstance: AgentRunnerClient | null = null;
  private connectedListeners = new Set<() => void>();

  constructor(
    readonly io: CliIO,
    options: GlobalOptions,
  ) {
    this.config = loadCliConfig(io.env, { url: options.url, token: options.token });
    this.json = options.json === true;
    this.tty = !this.json && io.stdout.isTTY === true && io.env.TERM !== 'dumb';
    this.color = this.tty && !io.env.NO_COLOR;
  }

  /** The typed client for the configured server (made on first use, closed by `close`). */
  get client(): AgentRunnerClient {
    this.clientInstance ??= new AgentRunnerClient({
      url: this.config.url,
      token: this.config.token ?? undefined,
      onConnected: () => {
        for (const listener of this.connectedListeners) listener();
      },
    });
    return this.clientInstance;
  }

  /** Calls `listener` whenever the subscription WebSocket is (re)connected; returns the remover. */
  onConnected(listener: () => void): () => void {
    this.connectedListeners.add(listener);
    return () => this.connectedListeners.delete(listener);
  }

  /** A line on stdout, with no escape codes or other control characters (it may hold the server's text). */
  out(line = ''): void {
    this.io.stdout.write(`${printable(line)}\n`);
  }

  /** A line on stderr (notices that must not mix with the output a script reads), made printable like `out`. */
  note(line: string): void {
    this.io.stderr.write(`${printable(line)}\n`);
  }

  /** One JSON document on stdout (--json of a command that prints one result). */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One NDJSON line on stdout (--json of a stream). */
  printJsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  async close(): Promise<void> {
    await this.clientInstance?.close();
    this.clientInstance = null;
  }
}
