/**
 * Running the `agent-runner` command as a user does — `node bin/agent-runner.mjs …` in a child
 * process, with only the environment given here — against a real server (the test app) with the
 * fake Ollama and a stub `mvn`; in a pseudo-terminal (util-linux `script`) when a test needs one,
 * with @xterm/headless to read the screen the escape codes drew; and a TCP proxy whose connections
 * a test can cut.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import xterm from '@xterm/headless';
import { afterEach } from 'vitest';
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { CODER_MODEL, PLAN_TOKENS, PLANNER_MODEL, coderAnswer, installStubMvn, tokensOf } from '../workflow/support.js';
import type { Config } from '../../src/config.js';

export const BIN = fileURLToPath(new URL('../../bin/agent-runner.mjs', import.meta.url));

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Every child a test started; afterEach kills what is left, so no test leaks one. */
const children = new Set<ResultPromise>();
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.allSettled([...children]);
  children.clear();
});

function track<T extends ResultPromise>(child: T): T {
  children.add(child);
  void child.finally(() => children.delete(child)).catch(() => undefined);
  return child;
}

/** The child's environment: nothing of the test process's but PATH and HOME, plus `env`. */
function cliEnv(env: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export interface CliOptions {
  /** AGENT_RUNNER_URL for the child (none when undefined). */
  url?: string;
  /** More environment variables (API_TOKEN, NO_COLOR …). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed (bytes as they are, for binary input). */
  input?: string | Uint8Array;
}

/** Starts `agent-runner …args` (stdin a pipe, stdout and stderr captured); await it for the result. */
export function startCli(args: string[], options: CliOptions = {}) {
  return track(
    execa(process.execPath, [BIN, ...args], {
      env: cliEnv({ AGENT_RUNNER_URL: options.url, ...options.env }),
      extendEnv: false,
      cwd: options.cwd,
      reject: false,
      ...(options.input !== undefined ? { input: options.input } : { stdin: 'pipe' as const }),
      timeout: options.timeoutMs ?? 60_000,
    }),
  );
}

/** Runs `agent-runner …args` to its end. */
export async function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await startCli(args, options);
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `agent-runner …args` in a pseudo-terminal of `cols` × `rows` (util-linux `script`); its
 * stdout is what the terminal received, escape codes included; writing "\x03" to stdin is Ctrl-C.
 */
export function startCliInTerminal(args: string[], options: CliOptions & { cols?: number; rows?: number } = {}) {
  const command = `stty cols ${options.cols ?? 100} rows ${options.rows ?? 30}; exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  return track(
    execa('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      env: cliEnv({ AGENT_RUNNER_URL: options.url, TERM: 'xterm-256color', ...options.env }),
      extendEnv: false,
      reject: false,
      stdin: 'pipe',
      timeout: options.timeoutMs ?? 60_000,
    }),
  );
}

/** The screen a terminal of `cols` × `rows` shows after `transcript`, scrollback included, as lines. */
export async function screenOf(transcript: string, cols = 100, rows = 30): Promise<string[]> {
  const terminal = new xterm.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(transcript, resolve));
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
  terminal.dispose();
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines;
}

/** CSI, OSC and other escape sequences. */
// eslint-disable-next-line no-control-regex
export const ESCAPE = /\u001b/;

/** Parses NDJSON output, failing on a line that is not JSON. */
export function ndjson<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

export interface CliServer {
  t: TestApp;
  fake: FakeOllama;
  url: string;
  close(): Promise<void>;
}

/**
 * The real server with the fake Ollama answering the built-in workflow's planner and coder, and a
 * stub `mvn` first on PATH. `tokenDelayMs` slows the answers (the planner streams 8 tokens, the
 * coder about 12).
 */
export async function startCliServer(overrides: Partial<Config> = {}, { tokenDelayMs = 5 } = {}): Promise<CliServer> {
  const fake = await startFakeOllama({ models: [PLANNER_MODEL, CODER_MODEL] });
  fake.script(PLANNER_MODEL, { tokens: PLAN_TOKENS, tokenDelayMs });
  fake.script(CODER_MODEL, { tokens: tokensOf(coderAnswer(), 2), tokenDelayMs });
  const t = await startTestApp({ ollamaBaseUrl: fake.url, streamCoalesceMs: 10, ...overrides });
  installStubMvn(t.dir);
  return {
    t,
    fake,
    url: t.url,
    async close() {
      await t.close();
      await fake.close();
    },
  };
}

/** A TCP proxy in front of `target` whose connections a test can cut (`cut`) or refuse for a while (`refuseFor`). */
export async function startProxy(target: string): Promise<{ url: string; cut(): number; refuseFor(ms: number): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let refuseUntil = 0;
  const server: Server = createServer((client) => {
    if (Date.now() < refuseUntil) return void client.destroy();
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    refuseFor(ms) {
      refuseUntil = Date.now() + ms;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Lines the child has written to stdout so far (for tests that act while it runs). */
export function liveLines(child: ResultPromise): { lines: string[]; text(): string } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return {
    get lines() {
      return text.split('\n').filter(Boolean);
    },
    text: () => text,
  };
}

/** Waits until the child's stdout so far satisfies `check`. */
export async function waitForOutput(output: { text(): string }, check: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => check(output.text()), { timeoutMs, what, intervalMs: 25 });
}
