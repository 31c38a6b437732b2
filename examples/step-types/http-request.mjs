// A custom step type: HTTP_REQUEST. Put this file in STEP_TYPES_DIR (or point STEP_TYPES_DIR at this
// folder) and workflows can use it:
//
//   - name: health
//     type: HTTP_REQUEST
//     url: "http://localhost:8080/q/health"
//     expectStatus: [200]
//     outputFile: health.json
//
// A step type module exports `type`, `description`, `parameters` (a JSON Schema of its own fields)
// and `execute(ctx)`. The server checks every step of this type against `parameters` when a
// workflow is registered, renders the templates in its string fields (${{ inputs.url }} …) before it
// runs, and gives `execute` the same context the built-in steps get: ctx.step.params, ctx.workspace,
// ctx.signal (aborted on timeout or stop), ctx.log / ctx.emit, ctx.recordArtifact.

/** Largest response body kept, in bytes; the rest is dropped (and said so). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export const type = 'HTTP_REQUEST';

export const description = 'Sends an HTTP request, checks its status and keeps the response body as the step output (and, with outputFile, in a workspace file).';

export const parameters = {
  type: 'object',
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, description: 'The http(s) URL (a template).' },
    method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], description: 'The HTTP method (default GET).' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Request headers (values are templates).' },
    body: { type: 'string', description: 'The request body (a template).' },
    expectStatus: {
      type: 'array',
      items: { type: 'integer', minimum: 100, maximum: 599 },
      minItems: 1,
      description: 'The statuses that mean success (default: any 2xx).',
    },
    outputFile: { type: 'string', minLength: 1, description: 'Workspace-relative file the response body is written to (a template).' },
  },
};

/** @param {any} ctx the step context (see src/engine/types.ts, StepContext) */
export async function execute(ctx) {
  const { url, method = 'GET', headers = {}, body, expectStatus, outputFile } = ctx.step.params;
  let target;
  try {
    target = new URL(url);
  } catch {
    throw notRetryable(`"${url}" is not a URL`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw notRetryable(`only http and https URLs can be requested, not ${target.protocol}`);

  ctx.log(`${method} ${target.href}`, { method, url: target.href });
  const started = Date.now();
  let response;
  try {
    response = await fetch(target, { method, headers, body, signal: ctx.signal, redirect: 'follow' });
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new Error(`${method} ${target.href} failed: ${error.cause?.code ?? error.message}`);
  }
  const { text, droppedBytes } = await readCapped(response);
  const durationMs = Date.now() - started;
  const data = { status: response.status, method, url: target.href, bytes: Buffer.byteLength(text) + droppedBytes, durationMs };
  ctx.log(`${response.status} ${response.statusText} in ${durationMs} ms (${data.bytes} bytes)`, data);

  if (outputFile) {
    await ctx.workspace.writeFile(outputFile, text);
    if (ctx.step.saveArtifact) await ctx.recordArtifact(outputFile, 'FILE');
  }
  const expected = expectStatus ?? null;
  const ok = expected ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
  if (!ok) {
    const error = new Error(`${method} ${target.href} answered ${response.status} ${response.statusText}; expected ${expected ? expected.join(' or ') : 'a 2xx status'}. Body: ${text.slice(0, 500)}`);
    // A server error or a rate limit may pass; anything else will answer the same next time.
    error.retryable = response.status >= 500 || response.status === 429;
    throw error;
  }
  const note = droppedBytes > 0 ? ` (the last ${droppedBytes} bytes were dropped)` : '';
  return { output: text, data: { ...data, ...(droppedBytes > 0 ? { droppedBytes } : {}) }, summary: `${method} ${target.href} answered ${response.status}${note}` };
}

function notRetryable(message) {
  const error = new Error(message);
  error.retryable = false;
  return error;
}

/** The body as text, at most MAX_RESPONSE_BYTES of it. */
async function readCapped(response) {
  if (!response.body) return { text: '', droppedBytes: 0 };
  const chunks = [];
  let kept = 0;
  let droppedBytes = 0;
  for await (const chunk of response.body) {
    const room = MAX_RESPONSE_BYTES - kept;
    if (room > 0) {
      chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.byteLength);
    }
    droppedBytes += Math.max(0, chunk.byteLength - Math.max(room, 0));
  }
  return { text: Buffer.concat(chunks).toString('utf8'), droppedBytes };
}
