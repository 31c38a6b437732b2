import type { ProjectRecord } from '../engine/types.js';
import { createProject } from '../services/projects.js';
import { boundedInt, pageComplexity, parseId } from './args.js';
import { builder } from './builder.js';
import { RunRef } from './run.js';

export const ProjectRef = builder.objectRef<ProjectRecord>('Project');

ProjectRef.implement({
  description: 'A named workspace: a folder on the server where runs write files and run commands.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The project id.' }),
    name: t.exposeString('name', { description: 'Unique name of the project.' }),
    localPath: t.exposeString('localPath', { description: 'Absolute path of the workspace folder on the server.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the project was created.' }),
    requiredLabels: t.exposeStringList('requiredLabels', {
      description: 'Placement: with several server instances (DATABASE_URL), only an instance whose WORKER_LABELS include every one of these executes this project’s runs (for instance the machine that has its folder, or a GPU). Empty: any instance. One server alone executes every run whatever its labels.',
    }),
    runs: t.field({
      type: [RunRef],
      description: "The project's runs, newest first.",
      args: { first: t.arg.int({ defaultValue: 50, description: 'How many runs to return (1 to 500).' }) },
      complexity: (args) => pageComplexity(args.first, 50),
      resolve: (project, args, { services }) =>
        services.store.listRuns({ projectId: project.id, first: boundedInt(args.first, 'first', 50, 1, 500) }),
    }),
  }),
});

builder.queryFields((t) => ({
  projects: t.field({
    type: [ProjectRef],
    description: 'Every project, oldest first.',
    // A server has tens of projects, rarely hundreds: what a project's fields cost is counted 50 times.
    complexity: { field: 1, multiplier: 50 },
    resolve: (_root, _args, { services }) => services.store.listProjects(),
  }),
  project: t.field({
    type: ProjectRef,
    nullable: true,
    description: 'One project by id, or null if there is none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The project id.' }) },
    resolve: (_root, args, { services }) => services.store.getProject(parseId(args.id, 'id')),
  }),
}));

builder.mutationFields((t) => ({
  createProject: t.field({
    type: ProjectRef,
    description:
      'Creates a project. `localPath` must be an absolute path to a folder the server can write; a missing folder is created. After symbolic links are resolved, it must not be the filesystem root, a system folder (/etc, /usr, /var …) or anything in one, a shared folder itself (/home, /tmp …), the home folder or a folder containing it, a credential folder (~/.ssh, ~/.aws …), or the server\'s data folder; when the server sets WORKSPACE_ROOTS, it must lie below one of them. Fails with BAD_USER_INPUT for a bad name or folder, CONFLICT for a name already taken or a folder that is already another project\'s.',
    args: {
      name: t.arg.string({ required: true, description: 'A unique, non-empty name (at most 200 characters).' }),
      localPath: t.arg.string({ required: true, description: 'Absolute path of the workspace folder on the server.' }),
      requiredLabels: t.arg.stringList({
        description:
          'Labels an instance must have (WORKER_LABELS) to execute this project’s runs: at most 64, each 1 to 63 lower-case letters, digits, ".", "_" or "-" (none: any instance). With several instances, send createProject to an instance that has them all: it checks the folder on its machine (BAD_USER_INPUT otherwise).',
      }),
    },
    resolve: (_root, args, { services }) => createProject(services, args.name, args.localPath, args.requiredLabels ?? []),
  }),
}));
