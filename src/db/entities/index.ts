export { ProjectSchema } from './project.entity.js';
export { RunSchema } from './run.entity.js';
export { EventSchema } from './event.entity.js';
export { ArtifactSchema } from './artifact.entity.js';
export { StepRunSchema } from './step-run.entity.js';
export { WorkflowVersionSchema } from './workflow-version.entity.js';
export { AgentMessageSchema } from './agent-message.entity.js';
export { DirectiveSchema } from './directive.entity.js';
