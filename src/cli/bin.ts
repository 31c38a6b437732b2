/**
 * The entry of the `agent-runner` command (bin/agent-runner.mjs loads it): the only file of src/cli
 * that touches the process — its arguments, streams, environment, Ctrl-C and exit code.
 */
import { runCli } from './main.js';

// Ctrl-C is caught only while a command listens for it (following a run: it detaches); otherwise
// it ends the process as usual, and `serve` leaves it to the server's own graceful shutdown.
const interruptListeners = new Set<() => void>();
const onSigint = () => {
  for (const listener of [...interruptListeners]) listener();
};

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(listener) {
    if (interruptListeners.size === 0) process.on('SIGINT', onSigint);
    interruptListeners.add(listener);
    return () => {
      interruptListeners.delete(listener);
      if (interruptListeners.size === 0) process.off('SIGINT', onSigint);
    };
  },
});
// Idle keep-alive sockets would hold the process for seconds: leave once stdout has taken everything.
process.stdout.write('', () => process.exit(code));
