/**
 * `agent-runner serve` is the server as `npm start` runs it: configured by its environment, it
 * listens, answers the command's other commands, and shuts down cleanly on SIGTERM.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, waitFor } from '../helpers/test-app.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, liveLines, startCli } from './support.js';

describe('agent-runner serve', { timeout: 180_000 }, () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts the server from its environment; the other commands reach it; SIGTERM stops it', async () => {
    dir = makeTempDir();
    const serving = startCli(['serve'], {
      env: { PORT: '0', DATABASE_PATH: join(dir, 'agent-runner.db'), WORKFLOWS_DIR: join(dir, 'workflows'), OLLAMA_BASE_URL: 'http://127.0.0.1:9', DISABLE_WORKER: 'true' },
      timeoutMs: 170_000,
    });
    const output = liveLines(serving);
    // The last of the start-up lines.
    const url = await waitFor(() => /^GraphiQL: (http:\/\/\S+)\/graphql /m.exec(output.text())?.[1], { timeoutMs: 150_000, what: 'the server to listen' });
    expect(output.text()).toContain(`agent-runner listening on ${url}\n`);
    expect(output.text()).toContain(`GraphiQL: ${url}/graphql  (database ${join(dir, 'agent-runner.db')}, Ollama http://127.0.0.1:9, worker disabled)`);

    const created = await cli(['projects', 'create', 'served', join(dir, 'served')], { url });
    expect(created.exitCode, created.stderr).toBe(0);
    const list = await cli(['projects', 'list', '--json'], { url });
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'served', localPath: join(dir, 'served') })]);

    serving.kill('SIGTERM');
    const result = await serving;
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toContain('agent-runner: SIGTERM received, shutting down');
  });
});
