import { AgentRunnerClient } from '../src/client/client.js';
import { CreateRunDocument } from '../src/client/generated/graphql.js';
import { benchWorkflow, startBenchApp } from './lib/product.js';
import { nowMs, sleep } from './lib/stats.js';
const pickup = benchWorkflow('bench-pickup', [{ name: 'write', type: 'FILE_WRITE', outputFile: 'pickup.txt', content: 'x' }]);
const b = await startBenchApp({ workerCheckIntervalSeconds: 3600 }, [pickup]);
const client = new AgentRunnerClient({ url: b.url });
const knex = (b.app.services.store as any).orm.em.getKnex();
let t0 = 0;
let on = false;
const lines: string[] = [];
knex.on('query', (q: any) => on && lines.push(`${(nowMs() - t0).toFixed(2).padStart(7)} query ${q.sql.slice(0, 110)}`));
knex.on('query-response', (_r: any, q: any) => on && lines.push(`${(nowMs() - t0).toFixed(2).padStart(7)}   done ${q.sql.slice(0, 50)}`));
const { pubsub } = b.app.services;
pubsub.subscribe('runUpdated', 'all', (r) => on && lines.push(`${(nowMs() - t0).toFixed(2).padStart(7)} runUpdated ${r.status}`));
for (let i = 0; i < 6; i++) {
  lines.length = 0;
  let unsub = () => {};
  const u2 = pubsub.subscribe('runUpdated', 'all', (r) => {
    if (r.status === 'QUEUED') unsub = pubsub.subscribe('runEvent', r.id, (e) => on && lines.push(`${(nowMs() - t0).toFixed(2).padStart(7)} event ${e.type}`));
  });
  on = true;
  t0 = nowMs();
  lines.push('   0.00 request');
  await client.request(CreateRunDocument, { input: { projectId: String(b.project.id), goal: 'pickup', options: { workflowName: 'bench-pickup' } } });
  lines.push(`${(nowMs() - t0).toFixed(2).padStart(7)} response`);
  await sleep(150);
  on = false;
  unsub();
  u2();
}
console.log(lines.join('\n'));
await client.close();
await b.close();
