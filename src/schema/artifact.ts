import { open } from 'node:fs/promises';
import { Workspace } from '../engine/workspace.js';
import { ARTIFACT_KINDS, type ArtifactRecord } from '../engine/types.js';
import { boundedInt, parseId } from './args.js';
import { builder } from './builder.js';

export const ArtifactKindEnum = builder.enumType('ArtifactKind', {
  description: 'What kind of file an artifact is.',
  values: {
    GENERATED_FILE: { description: 'Text a model generated (a plan, a source file).' },
    COMMAND_OUTPUT: { description: 'A command’s output: the command, its return code, STDOUT and STDERR.' },
    FILE: { description: 'A file a FILE_WRITE step wrote.' },
  } satisfies Record<(typeof ARTIFACT_KINDS)[number], { description: string }>,
});

export const ArtifactRef = builder.objectRef<ArtifactRecord>('Artifact');

ArtifactRef.implement({
  description: 'A file a step of a run produced, in the project’s workspace.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The artifact id.' }),
    runId: t.exposeID('runId', { description: 'The run that produced it.' }),
    stepName: t.exposeString('stepName', { nullable: true, description: 'The step that produced it.' }),
    kind: t.expose('kind', { type: ArtifactKindEnum, description: 'What kind of file it is.' }),
    path: t.exposeString('path', { description: 'Path relative to the project’s workspace.' }),
    sizeBytes: t.exposeInt('sizeBytes', { description: 'Size when it was recorded, in bytes.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was recorded.' }),
    downloadUrl: t.string({
      description:
        'A link that downloads the file (GET, as an attachment) without the API token: a path relative to the server, such as /artifacts/12/download?expires=…&signature=…, signed for this artifact only and valid for ARTIFACT_LINK_TTL_SECONDS (300 s by default). Ask again for a fresh one.',
      resolve: (artifact, _args, { services }) => services.artifactLinks.pathFor(artifact.id),
    }),
    content: t.string({
      nullable: true,
      description: 'The file’s current text, at most `maxBytes` bytes of it; null if the file no longer exists.',
      args: { maxBytes: t.arg.int({ defaultValue: 1_048_576, description: 'At most this many bytes (1 to 10485760).' }) },
      // Reading a file costs by its size: 1, plus 1 per 64 KiB asked for.
      complexity: (args) => 1 + Math.ceil(Math.max(0, args.maxBytes ?? 1_048_576) / 65_536),
      resolve: async (artifact, args, { services }) => {
        const maxBytes = boundedInt(args.maxBytes, 'maxBytes', 1_048_576, 1, 10_485_760);
        const run = await services.store.getRun(artifact.runId);
        const project = run ? await services.store.getProject(run.projectId) : null;
        if (!project) return null;
        let absolute: string;
        try {
          absolute = await new Workspace(project.localPath).resolve(artifact.path);
        } catch {
          return null; // it now leads outside the workspace (a symlink changed): not served
        }
        const file = await open(absolute, 'r').catch(() => null);
        if (!file) return null;
        try {
          // Never more than the file holds: maxBytes is an upper bound, not an allocation.
          const size = Math.min(maxBytes, (await file.stat()).size);
          const buffer = Buffer.alloc(size);
          const { bytesRead } = await file.read(buffer, 0, size, 0);
          return buffer.subarray(0, bytesRead).toString('utf8');
        } finally {
          await file.close();
        }
      },
    }),
  }),
});

builder.queryFields((t) => ({
  artifact: t.field({
    type: ArtifactRef,
    nullable: true,
    description: 'One artifact by id, or null if there is none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The artifact id.' }) },
    resolve: (_root, args, { services }) => services.store.getArtifact(parseId(args.id, 'id')),
  }),
}));
