/** `agent-runner projects list|create`: the named folders runs work in. */
import { resolve } from 'node:path';
import { CliCreateProjectDocument } from '../../client/generated/graphql.js';
import { defineAction, examples, type CommandModule } from '../command.js';
import { formatDateTime, table } from '../format.js';
import { listProjects } from '../resolve.js';

export const registerProjects: CommandModule = (program, host) => {
  const projects = program
    .command('projects')
    .description('list and create projects: a name and a folder on the server where runs write files and run commands')
    .addHelpText('after', examples('agent-runner projects list', 'agent-runner projects create demo ~/work/demo'));

  projects
    .command('list')
    .description('list the projects, oldest first')
    .addHelpText('after', examples('agent-runner projects list', 'agent-runner projects list --json'))
    .action(
      defineAction(host, async (ctx) => {
        const list = await listProjects(ctx);
        if (ctx.json) return ctx.printJson(list.map(({ runs, ...project }) => ({ ...project, runCount: runs.length })));
        if (list.length === 0) return ctx.out('No projects yet. Create one with: agent-runner projects create NAME PATH');
        for (const line of table(
          ['ID', 'NAME', 'RUNS', 'CREATED', 'FOLDER'],
          list.map((p) => [p.id, p.name, String(p.runs.length), formatDateTime(p.createdAt), p.localPath]),
        ))
          ctx.out(line);
      }),
    );

  projects
    .command('create')
    .description('create a project')
    .argument('<name>', 'a unique name, such as demo')
    .argument('<path>', "its folder on the server's machine (created if missing); a relative path is taken from the current folder")
    .addHelpText('after', examples('agent-runner projects create demo ./demo', 'agent-runner projects create shop /srv/projects/shop --json'))
    .action(
      defineAction(host, async (ctx, _options, name: string, path: string) => {
        const { createProject } = await ctx.client.request(CliCreateProjectDocument, { name, localPath: resolve(path) });
        if (ctx.json) return ctx.printJson(createProject);
        ctx.out(`Created project ${createProject.name} (id ${createProject.id}) in ${createProject.localPath}.`);
        ctx.out(`Start a run in it with: agent-runner run WORKFLOW --project ${createProject.name} --goal "…" --watch`);
      }),
    );
};
