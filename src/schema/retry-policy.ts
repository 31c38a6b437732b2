import type { RetryPolicy } from '../engine/types.js';
import { builder } from './builder.js';

export const RetryPolicyRef = builder.objectRef<RetryPolicy>('RetryPolicy');

RetryPolicyRef.implement({
  description: 'How a step is tried again after a failure that may succeed on another attempt (a timeout, a dropped connection, a non-zero exit). A missing model or a refused path is never retried.',
  fields: (t) => ({
    maxAttempts: t.exposeInt('maxAttempts', { description: 'Attempts in all, the first included.' }),
    backoffSeconds: t.exposeFloat('backoffSeconds', { description: 'Wait before the second attempt, in seconds.' }),
    backoffFactor: t.exposeFloat('backoffFactor', { description: 'Each later wait is the previous one times this.' }),
  }),
});
