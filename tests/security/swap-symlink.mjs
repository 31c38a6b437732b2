/**
 * The attacker of the symlink-race tests, as a process of its own: swaps the folder `argv[2]` with
 * a symbolic link to `argv[3]` and back, over and over (each state held ~0.1 ms), until `argv[4]`
 * milliseconds have passed or its stdin closes. With `argv[5]`, it starts only once that file
 * exists (the first file a run writes: the checks made before writing have passed by then). Says
 * `waiting` when it waits for that file, `swapping` as it starts swapping, and at the end how many
 * swaps it made.
 */
import { existsSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';

const [folder, target, durationMs = '10000', startWhenExists] = process.argv.slice(2);
const parked = `${folder}.parked-by-swapper`;
const pause = new Int32Array(new SharedArrayBuffer(4));
const deadline = Date.now() + Number(durationMs);
let stop = false;
process.stdin.on('close', () => (stop = true)).resume();

let swaps = 0;
function round() {
  for (let i = 0; i < 200; i++) {
    try {
      renameSync(folder, parked);
      symlinkSync(target, folder);
      swaps++;
    } catch {
      // The writer made the folder again in between, or it is already swapped: go on.
    }
    Atomics.wait(pause, 0, 0, 0.1);
    try {
      unlinkSync(folder);
    } catch {
      // A real folder (the writer made one): leave it.
    }
    try {
      renameSync(parked, folder);
    } catch {
      // The folder exists again and is not empty: keep the parked one for the next round.
    }
    Atomics.wait(pause, 0, 0, 0.1);
  }
  if (stop || Date.now() > deadline) {
    try {
      unlinkSync(folder);
    } catch {}
    try {
      renameSync(parked, folder);
    } catch {}
    console.log(`swaps ${swaps}`);
    process.exit(0);
  }
  setImmediate(round);
}
if (startWhenExists) {
  console.log('waiting');
  while (!existsSync(startWhenExists) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 0.05);
}
console.log('swapping');
round();
