/** `agent-runner serve`: the server itself, as `npm start` runs it (configured by its environment variables). */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { examples, type CommandModule } from '../command.js';
import { packageInfo } from '../package-root.js';

export const registerServe: CommandModule = (program) => {
  program
    .command('serve')
    .description('start the agent-runner server here (what npm start runs); it is configured by environment variables (README: Configuration)')
    .addHelpText(
      'after',
      examples(
        'agent-runner serve',
        'PORT=9000 API_TOKEN=secret agent-runner serve',
        'npx tsx scripts/fake-ollama.ts 11435 &  OLLAMA_BASE_URL=http://127.0.0.1:11435 agent-runner serve   # try it without Ollama',
      ),
    )
    .action(async () => {
      // As npm start: compile the server into dist/, then run it in this process. Its entry owns the
      // process from here (signals, exit code), so this promise never settles.
      const { root } = packageInfo();
      process.setSourceMapsEnabled(true); // as npm start's node --enable-source-maps
      await import(pathToFileURL(join(root, 'scripts', 'build-server.mjs')).href);
      await import(pathToFileURL(join(root, 'dist', 'server.js')).href);
      await new Promise<never>(() => {});
    });
};
