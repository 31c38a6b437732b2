// The command runner: a small Node process that spawns the commands of steps on the server's behalf.
// fork() copies the page tables of the process that calls it, synchronously on its event loop: from
// the server (~200 MB) that costs milliseconds per command and stalls live event delivery, from here
// (~40 MB, no dependencies, no tsx loader) much less. Plain JavaScript so that plain `node` runs it.
//
// Over IPC (advanced serialization):
//   in:  { op: 'spawn', id, command, cwd, env }
//   out: { op: 'spawned', id, pid } | { op: 'error', id, message, code }
//        { op: 'output', id, stream: 'stdout' | 'stderr', data }   (in order, before 'closed')
//        { op: 'exited', id }                  the shell exited; children it left may still hold the pipes
//        { op: 'closed', id, exitCode, signal } the shell exited and both pipes are closed
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

process.on('message', (message) => {
  if (message.op === 'spawn') start(message);
});

// The server died or let go of this process: leave what runs alone, the server's crash recovery
// finds it by its environment.
process.on('disconnect', () => process.exit(0));

// Ctrl-C in a terminal signals the whole foreground process group, this process included, while the
// server shuts down gracefully and lets running steps finish: it ends when the server disconnects.
process.on('SIGINT', () => {});

function start({ id, command, cwd, env }) {
  let child;
  try {
    // detached: a session and process group of its own, which the server signals as a whole.
    child = spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
  for (const stream of ['stdout', 'stderr']) forward(child[stream], id, stream);
  child.once('exit', () => send({ op: 'exited', id }));
  child.once('close', (exitCode, signal) => send({ op: 'closed', id, exitCode, signal }));
}

function notStarted(id, cwd, error) {
  // A missing working directory fails as "spawn /bin/sh ENOENT", which points the wrong way.
  const message = error.code === 'ENOENT' && !existsSync(cwd) ? `no such working directory: ${cwd} (${error.message})` : error.message;
  send({ op: 'error', id, message, code: error.code });
}

/** Sends each chunk on, pausing the pipe while the channel is backed up so memory stays bounded. */
function forward(stream, id, name) {
  stream.on('data', (data) => {
    let backedUp = false;
    backedUp = !send({ op: 'output', id, stream: name, data }, () => backedUp && stream.resume());
    if (backedUp) stream.pause();
  });
}

function send(message, sent) {
  if (!process.connected) return true;
  return process.send(message, undefined, undefined, sent);
}
