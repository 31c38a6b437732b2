// The command runner: a small Node process that spawns the commands of steps on the server's behalf.
// fork() copies the page tables of the process that calls it, synchronously on its event loop: from
// the server (~200 MB) that costs milliseconds per command and stalls live event delivery, from here
// (~40 MB, no dependencies, no tsx loader) much less. Plain JavaScript so that plain `node` runs it.
//
// It also bounds what reaches the server: of each output stream it forwards the first `headBytes`,
// then only counts and keeps the last `tailBytes`, sent once the command has ended. A command that
// prints gigabytes (`yes`) costs the server a few messages, not gigabytes of IPC. Past the head it
// reads at most `tailBytesPerSecond`: the pipe fills and the command waits on its own writes, so a
// flood costs the machine little CPU (and slows only its own step).
//
// Over IPC (advanced serialization):
//   in:  { op: 'spawn', id, file, args, cwd, env, headBytes, tailBytes, tailBytesPerSecond }
//   out: { op: 'spawned', id, pid } | { op: 'error', id, message, code }
//        { op: 'output', id, stream: 'stdout' | 'stderr', data }   (in order, the head only)
//        { op: 'overflow', id, stream }          the stream went past its head; the rest is held back
//        { op: 'exited', id }                  the process exited; children it left may still hold the pipes
//        { op: 'tail', id, stream, data, droppedBytes }   after the pipes closed, for a stream that overflowed
//        { op: 'closed', id, exitCode, signal } the process exited and both pipes are closed
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

process.on('message', (message) => {
  if (message.op === 'spawn') start(message);
});

// The server died or let go of this process: leave what runs alone, the server's crash recovery
// finds it by its environment (sandboxed commands end with this process: bwrap --die-with-parent).
process.on('disconnect', () => process.exit(0));

// Ctrl-C in a terminal signals the whole foreground process group, this process included, while the
// server shuts down gracefully and lets running steps finish: it ends when the server disconnects.
process.on('SIGINT', () => {});

function start({ id, file, args, cwd, env, headBytes, tailBytes, tailBytesPerSecond }) {
  let child;
  try {
    // detached: a session and process group of its own, which the server signals as a whole.
    child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    notStarted(id, cwd, error);
    return;
  }
  if (child.pid === undefined) {
    // The failure comes as an 'error' event, on the next tick.
    child.once('error', (error) => notStarted(id, cwd, error));
    return;
  }
  send({ op: 'spawned', id, pid: child.pid });
  const streams = ['stdout', 'stderr'].map((name) => forward(child[name], id, name, headBytes, tailBytes, tailBytesPerSecond));
  child.once('exit', () => send({ op: 'exited', id }));
  child.once('close', (exitCode, signal) => {
    for (const stream of streams) stream.sendTail();
    send({ op: 'closed', id, exitCode, signal });
  });
}

function notStarted(id, cwd, error) {
  // A missing working directory fails as "spawn /bin/sh ENOENT", which points the wrong way.
  const message = error.code === 'ENOENT' && !existsSync(cwd) ? `no such working directory: ${cwd} (${error.message})` : error.message;
  send({ op: 'error', id, message, code: error.code });
}

/** The pacing of a stream past its head: at most 1/10 of the rate per 100 ms window. */
const WINDOW_MS = 100;

/**
 * Sends the stream's first `headBytes` on, pausing the pipe while the channel is backed up so memory
 * stays bounded; past that, keeps the last `tailBytes` and counts what falls out of them, reading no
 * more than `tailBytesPerSecond`.
 */
function forward(stream, id, name, headBytes, tailBytes, tailBytesPerSecond) {
  let headLeft = headBytes;
  let overflowed = false;
  let windowStart = 0;
  let windowBytes = 0;
  /** Chunks of the tail, oldest first, and their total size. */
  let tail = [];
  let tailSize = 0;
  let droppedBytes = 0;
  stream.on('data', (data) => {
    if (headLeft > 0) {
      const head = data.length <= headLeft ? data : data.subarray(0, headLeft);
      headLeft -= head.length;
      let backedUp = false;
      backedUp = !send({ op: 'output', id, stream: name, data: head }, () => backedUp && stream.resume());
      if (backedUp) stream.pause();
      if (head.length === data.length) return;
      data = data.subarray(head.length);
    }
    if (!overflowed) {
      overflowed = true;
      send({ op: 'overflow', id, stream: name });
    }
    const now = performance.now();
    if (now - windowStart >= WINDOW_MS) {
      windowStart = now;
      windowBytes = 0;
    }
    windowBytes += data.length;
    if (windowBytes >= (tailBytesPerSecond * WINDOW_MS) / 1000) {
      stream.pause();
      setTimeout(() => stream.resume(), windowStart + WINDOW_MS - now);
    }
    tail.push(data);
    tailSize += data.length;
    while (tailSize > tailBytes) {
      const excess = tailSize - tailBytes;
      const first = tail[0];
      if (first.length <= excess) {
        tail.shift();
        tailSize -= first.length;
        droppedBytes += first.length;
      } else {
        // A view: it keeps at most one chunk alive beyond the tail.
        tail[0] = first.subarray(excess);
        tailSize -= excess;
        droppedBytes += excess;
      }
    }
  });
  return {
    sendTail() {
      if (!overflowed) return;
      send({ op: 'tail', id, stream: name, data: Buffer.concat(tail), droppedBytes });
      tail = [];
    },
  };
}

function send(message, sent) {
  if (!process.connected) return true;
  return process.send(message, undefined, undefined, sent);
}
