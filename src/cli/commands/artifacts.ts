/** `agent-runner artifacts RUN [--download DIR]`: the files a run wrote, listed or downloaded. */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { defineAction, examples, type CommandModule } from '../command.js';
import { CliError } from '../errors.js';
import { formatBytes, table } from '../format.js';
import { fetchRun, parseRunId } from '../resolve.js';

/** Where an artifact's file goes under `dir`; a path that would lead outside it is refused. */
function targetPath(dir: string, artifactPath: string): string {
  const target = resolve(dir, artifactPath);
  const inside = relative(dir, target);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new CliError(`The artifact path "${artifactPath}" leads outside ${dir}: not written.`);
  }
  return target;
}

export const registerArtifacts: CommandModule = (program, host) => {
  program
    .command('artifacts')
    .description('list the files a run wrote, or download them')
    .argument('<run>', 'the run id')
    .option('-d, --download <dir>', "download every file into this folder, keeping its path in the project folder")
    .addHelpText('after', examples('agent-runner artifacts 12', 'agent-runner artifacts 12 --download ./out', 'agent-runner artifacts 12 --json'))
    .action(
      defineAction(host, async (ctx, options: { download?: string }, id: string) => {
        const run = await fetchRun(ctx, parseRunId(id));
        if (options.download === undefined) {
          if (ctx.json) return ctx.printJson(run.artifacts);
          if (run.artifacts.length === 0) return ctx.out(`Run ${run.id} has written no files (yet).`);
          for (const line of table(
            ['ID', 'STEP', 'KIND', 'SIZE', 'PATH'],
            run.artifacts.map((a) => [a.id, a.stepName ?? '', a.kind, formatBytes(a.sizeBytes), a.path]),
          ))
            ctx.out(line);
          return;
        }

        const dir = resolve(options.download);
        const written: Array<{ id: string; path: string; file: string; bytes: number }> = [];
        for (const artifact of run.artifacts) {
          const file = targetPath(dir, artifact.path);
          const response = await ctx.client.download(artifact.id);
          await mkdir(dirname(file), { recursive: true });
          await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(file));
          written.push({ id: artifact.id, path: artifact.path, file, bytes: Number(response.headers.get('content-length') ?? artifact.sizeBytes) });
          if (!ctx.json) ctx.out(`${file} (${formatBytes(written.at(-1)!.bytes)})`);
        }
        if (ctx.json) return ctx.printJson(written);
        ctx.out(`Downloaded ${written.length} file${written.length === 1 ? '' : 's'} of run ${run.id} into ${dir}.`);
      }),
    );
};
