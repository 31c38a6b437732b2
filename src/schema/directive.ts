import type { DirectiveRecord } from '../engine/types.js';
import { sendDirective } from '../services/runs.js';
import { parseId } from './args.js';
import { builder } from './builder.js';
import { RunRef } from './run.js';

export const DirectiveRef = builder.objectRef<DirectiveRecord>('Directive').implement({
  description: 'A message a user sent to an agent run; the agent reads it before its next model call.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The directive id.' }),
    runId: t.exposeID('runId', { description: 'The run it was sent to.' }),
    text: t.exposeString('text', { description: 'What the user said.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was sent.' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When the agent took it into its conversation; null while it waits.' }),
    stepName: t.exposeString('stepName', { nullable: true, description: 'The agent step that received it.' }),
  }),
});

builder.objectFields(RunRef, (t) => ({
  directives: t.field({
    type: [DirectiveRef],
    description: 'Directives sent to this run, oldest first, delivered or waiting.',
    resolve: (run, _args, { services }) => services.store.listDirectives(run.id),
  }),
}));

builder.mutationFields((t) => ({
  sendDirective: t.field({
    type: DirectiveRef,
    description:
      'Sends a message to a running (or queued, or paused) agent: it is added to the agent’s conversation as a user message before its next model call, and recorded as AGENT_DIRECTIVE. NOT_FOUND for an unknown run; BAD_USER_INPUT for an empty text, one over 20 KB or one holding a NUL character; CONFLICT for a run that has ended or has no agent.',
    args: {
      runId: t.arg.id({ required: true, description: 'The agent run.' }),
      text: t.arg.string({ required: true, description: 'What the agent should do (or stop doing) next.' }),
    },
    resolve: (_root, args, { services }) => sendDirective(services, parseId(args.runId, 'runId'), args.text),
  }),
}));
