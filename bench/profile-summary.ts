/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`) by self time: the top functions, the top
 * packages (node_modules/<name>, the project's own src/, Node internals, GC, idle), and, for the
 * functions given with --focus, their inclusive (total) time.
 *
 *   npx tsx bench/profile-summary.ts bench/profiles/X.cpuprofile [--top 30] [--focus execute,send]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--focus a,b]');
  process.exit(2);
}
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const top = Number(arg('--top') ?? 30);
const focus = (arg('--focus') ?? '').split(',').filter(Boolean);

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function where(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node';
  const src = url.indexOf('/src/');
  if (src >= 0) return `src/${url.slice(src + 5).split('/').slice(0, -1).join('/')}`.replace(/\/$/, '');
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return 'bench';
  return url;
}
function key(n: Node): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${short}`.trim();
}

const self = new Map<string, number>();
const pkg = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i] ?? 0) / 1000;
  const node = byId.get(profile.samples[i])!;
  total += dt;
  self.set(key(node), (self.get(key(node)) ?? 0) + dt);
  const name = node.callFrame.functionName;
  const group = name === '(garbage collector)' || name === '(idle)' || name === '(program)' ? name : where(node.callFrame.url) || '(native)';
  pkg.set(group, (pkg.get(group) ?? 0) + dt);
  if (focus.length) {
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const k = key(n);
      if (!seen.has(k) && focus.some((f) => k.includes(f))) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
    }
  }
}
const idle = (self.get('(idle)') ?? 0);
const busy = total - idle;
const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(1).padStart(5)} %`;
const ms = (v: number) => `${v.toFixed(0).padStart(7)} ms`;
console.log(`${file}: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (not idle); percentages are of busy time\n`);
console.log('Self time by package / area:');
for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) if (k !== '(idle)') console.log(`  ${ms(v)} ${pct(v, busy)}  ${k}`);
console.log(`\nTop ${top} functions by self time:`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).filter(([k2]) => !k2.startsWith('(idle)')).slice(0, top)) console.log(`  ${ms(v)} ${pct(v, busy)}  ${k}`);
if (focus.length) {
  console.log('\nInclusive time of focused functions:');
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms(v)} ${pct(v, busy)}  ${k}`);
}
