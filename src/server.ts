/**
 * The entry point: `npm start`. The only file that touches the process (environment, signals,
 * exit code); everything else is built by `buildApp`.
 */
import { buildApp } from './app.js';
import { RedisUnavailableError } from './cluster/redis.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { describeDatabaseUrl } from './db/orm.js';
import { SandboxUnavailableError } from './engine/sandbox.js';
import { ensureConsoleBuilt } from './http/console.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`agent-runner: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const app = await buildApp(config).catch((error: unknown) => {
  if (error instanceof SandboxUnavailableError) {
    console.error(`agent-runner: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof RedisUnavailableError) {
    console.error(`agent-runner: ${error.message}`);
    process.exit(1);
  }
  const where = config.databaseUrl ? `DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)})` : `the database at ${config.databasePath}`;
  console.error(`agent-runner: cannot open ${where}: ${(error as Error).message}`);
  process.exit(1);
});

// The console is a build of console/: (re)made here when missing or older than its sources.
try {
  await ensureConsoleBuilt({ outDir: config.consoleDir, log: (line) => console.log(`agent-runner: ${line}`) });
} catch (error) {
  console.error(`agent-runner: the web console could not be built (${(error as Error).message}); the API still works. Try npm run build:console.`);
}

try {
  const url = await app.start();
  console.log(`agent-runner listening on ${url}`);
  console.log(`Console: ${url}/`);
  console.log(`GraphiQL: ${url}/graphql  (database ${config.databaseUrl ? describeDatabaseUrl(config.databaseUrl) : config.databasePath}, Ollama ${config.ollamaBaseUrl}, worker ${config.disableWorker ? 'disabled' : 'enabled'})`);
  const { sandbox } = await app.services.worker.status();
  if (sandbox.active) console.log(sandbox.summary);
  else console.warn(`agent-runner: WARNING: ${sandbox.summary}`);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === 'EADDRINUSE' ? ` Port ${config.port} is taken: stop the other server or set PORT.` : '';
  console.error(`agent-runner: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}.${hint}`);
  await app.stop();
  process.exit(1);
}

let shuttingDown = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`agent-runner: ${signal} received, shutting down`);
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('agent-runner: error while shutting down', error);
        process.exit(1);
      },
    );
  });
}
