import { builder } from './builder.js';
import './project.js';
import './run.js';
import './step-run.js';
import './step-model.js';
import './event.js';
import './artifact.js';
import './workflow.js';
import './retry-policy.js';
import './worker.js';
import './agent.js';
import './directive.js';

export const schema = builder.toSchema();
