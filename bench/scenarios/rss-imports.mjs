/**
 * Where the server's baseline memory goes: RSS and heap after importing each of the product's
 * heavy dependencies, in plain Node (no tsx) and — run with `--import tsx` — under tsx, as
 * `npm start` runs the server. Informational (no target), plain JavaScript on purpose.
 *
 *   node --expose-gc bench/scenarios/rss-imports.mjs
 */
const mods = ['graphql', 'graphql-yoga', '@mikro-orm/sqlite', '@mikro-orm/migrations', '@pothos/core', 'graphql-ws/use/ws', 'ws', 'execa', 'ollama', '@graphql-yoga/render-graphiql'];
const mb = (v) => Math.round((v / 1048576) * 10) / 10;
const read = () => {
  globalThis.gc?.();
  const u = process.memoryUsage();
  return { rssMb: mb(u.rss), heapMb: mb(u.heapUsed) };
};
const steps = [{ module: '(start)', ...read() }];
for (const name of mods) {
  await import(name);
  steps.push({ module: name, ...read() });
}
process.stdout.write(`@@RESULT ${JSON.stringify({ scenario: 'rss-imports', tsx: process.execArgv.includes('tsx'), steps })}\n`);
