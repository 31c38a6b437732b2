import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command, PhaseReport, SubOutcome, SubSpec } from '../subscribers.js';

/** Compiled by lib/compile.mjs when the scenario runs compiled (`npm run bench`), else under tsx. */
const COMPILED = import.meta.url.endsWith('.js');
const SCRIPT = fileURLToPath(new URL(COMPILED ? '../subscribers.js' : '../subscribers.ts', import.meta.url));

/** The parent's handle on bench/subscribers.ts, a separate process reached over IPC. */
export class SubscriberProcess {
  private readonly child: ChildProcess;
  private waiting: Array<{ type: string; resolve: (message: any) => void }> = [];
  /** Deliveries the subscribers have reported so far (updated every 20 ms). */
  delivered = 0;
  /** runUpdated payloads the subscribers have reported so far. */
  updates = 0;
  private progressListeners = new Set<() => void>();

  constructor() {
    this.child = fork(SCRIPT, [], {
      execArgv: [...(COMPILED ? [] : ['--import', 'tsx']), '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: { type: string; delivered?: number; updates?: number }) => {
      if (message.type === 'progress') {
        this.delivered = message.delivered!;
        this.updates = message.updates!;
        for (const listener of [...this.progressListeners]) listener();
        return;
      }
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index >= 0) this.waiting.splice(index, 1)[0].resolve(message);
    });
  }

  private request<T>(command: Command, replyType: string): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.push({ type: replyType, resolve });
      this.child.send(command);
    });
  }

  connect(url: string, subs: SubSpec[], concurrency = 50): Promise<{ ms: number; failed: number; firstError?: string }> {
    return this.request({ cmd: 'connect', url, subs, concurrency }, 'connected');
  }

  phase(): Promise<void> {
    return this.request({ cmd: 'phase' }, 'phase-ok');
  }

  report(): Promise<PhaseReport> {
    return this.request({ cmd: 'report' }, 'report');
  }

  final(): Promise<{ outcomes: SubOutcome[] }> {
    return this.request({ cmd: 'final' }, 'final');
  }

  /** Resolves at the next progress report (or after `timeoutMs`). */
  nextProgress(timeoutMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.progressListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.progressListeners.add(done);
    });
  }

  /** Waits until `delivered` reaches `target`; false after `timeoutMs` without progress. */
  async waitDelivered(target: number, stallMs = 10_000): Promise<boolean> {
    let last = this.delivered;
    let lastChange = Date.now();
    while (this.delivered < target) {
      await this.nextProgress(200);
      if (this.delivered !== last) {
        last = this.delivered;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > stallMs) {
        return false;
      }
    }
    return true;
  }

  /** Waits until `updates` reaches `target`; false after `stallMs` without progress. */
  async waitUpdates(target: number, stallMs = 20_000): Promise<boolean> {
    let last = this.updates;
    let lastChange = Date.now();
    while (this.updates < target) {
      await this.nextProgress(200);
      if (this.updates !== last) {
        last = this.updates;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > stallMs) {
        return false;
      }
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ cmd: 'close' } satisfies Command);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
