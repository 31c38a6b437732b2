import { TransformStream } from 'node:stream/web';
import { Ollama } from 'ollama';
import { Agent, fetch as undiciFetch, Response as UndiciResponse } from 'undici';
import { StepError, coerceError } from '../types.js';

/**
 * The HTTP client for every request to Ollama. Node's fetch (undici) gives up after 300 s without
 * response headers and after 300 s between two chunks of a body; Ollama sends its headers only once
 * the model is loaded and its first token is ready, which takes longer than that for a large model
 * loading from disk, and a model may pause mid-answer. Both limits are off here (0), so a step's own
 * timeout, enforced through its abort signal, is the only limit. Connecting still times out (10 s).
 *
 * undici's own fetch is used with this Agent, not the global one: a dispatcher only works with the
 * fetch of the same undici, and the one Node bundles changes with Node's version (the pinned npm
 * package is the version Node 20.20 bundles, 6.24.1).
 */
const ollamaDispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

/** A line of Ollama's NDJSON stream that is not JSON: the text it carried would be lost. */
export class InvalidStreamLineError extends Error {
  constructor(
    /** The line as received (cut to 200 characters). */
    readonly line: string,
    /** 1-based number of the line in the response body. */
    readonly lineNumber: number,
  ) {
    super(`line ${lineNumber} of Ollama's stream is not JSON: ${JSON.stringify(line)}`);
    this.name = 'InvalidStreamLineError';
  }
}

/**
 * An Ollama client whose every request is bound to `signal` and has no HTTP timeout of its own (see
 * `ollamaDispatcher`). The client's `abort()` does nothing until the response headers arrive, which
 * is exactly when a slow model load is spent; only a signal handed to `fetch` itself can cancel that
 * wait. Streamed (NDJSON) bodies are checked line by line: the client skips a line that is not JSON
 * with a console warning, so the stream errors with an InvalidStreamLineError instead.
 */
export function createOllama(baseUrl: string, signal: AbortSignal): Ollama {
  const ollamaFetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const response = await undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
      dispatcher: ollamaDispatcher,
    });
    if (!response.ok || response.body === null || !response.headers.get('content-type')?.includes('ndjson')) return response as unknown as Response;
    const checked = response.body.pipeThrough(ndjsonChecker());
    return new UndiciResponse(checked, { status: response.status, statusText: response.statusText, headers: response.headers }) as unknown as Response;
  };
  return new Ollama({ host: baseUrl, fetch: ollamaFetch as typeof fetch });
}

/** Passes the bytes on unchanged, and errors the stream at the first line that is not JSON (blank lines carry nothing and pass). */
function ndjsonChecker(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let pending = '';
  let lineNumber = 0;
  const check = (line: string): void => {
    lineNumber += 1;
    if (line.trim() === '') return;
    try {
      JSON.parse(line);
    } catch {
      throw new InvalidStreamLineError(line.slice(0, 200), lineNumber);
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) check(line);
      controller.enqueue(chunk);
    },
    flush() {
      pending += decoder.decode();
      if (pending !== '') check(pending);
    },
  });
}

export interface OllamaCallContext {
  baseUrl: string;
  model: string;
  /** The step that made the request, for advice that names it. */
  stepName?: string;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Client errors that another attempt cannot fix (a timeout or a rate limit can pass). */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 429]);

/**
 * Turns what the ollama client threw into a message a user can act on. When the answer ends early
 * the message says who ended it: Ollama (a closed connection, a missing final line, an error line);
 * the server's own cuts (a step's timeout, a stop) never reach here, the runner words those.
 */
export function describeOllamaError(thrown: unknown, { baseUrl, model, stepName }: OllamaCallContext): StepError {
  if (thrown instanceof StepError) return thrown;
  const error = coerceError(thrown);
  const data = { model, baseUrl };

  if (error instanceof InvalidStreamLineError) {
    return new StepError(
      `Ollama sent a line that is not JSON in the answer from ${model} (line ${error.lineNumber}: ${JSON.stringify(error.line.slice(0, 80))}); the text it carried would be lost, so the answer was not used. Is something between agent-runner and Ollama (a proxy) changing the stream?`,
      { cause: error, data: { ...data, lineNumber: error.lineNumber } },
    );
  }

  if (isResponseError(error)) {
    const status = error.status_code;
    const detail = error.error;
    if (status === 404 && /not found/i.test(detail)) {
      return new StepError(`Model '${model}' is not installed in Ollama. Run: ollama pull ${model}`, {
        retryable: false,
        cause: error,
        data: { ...data, status },
      });
    }
    if (status === 400 && /does not support thinking/i.test(detail)) {
      const step = stepName ? `step "${stepName}"` : 'the step';
      return new StepError(
        `Model '${model}' does not support thinking (Ollama: ${detail}): remove "think" from ${step} in the workflow, or choose a reasoning model (qwen3, deepseek-r1, gpt-oss …) for it`,
        { retryable: false, cause: error, data: { ...data, status } },
      );
    }
    const retryable = status >= 500 || RETRYABLE_CLIENT_STATUSES.has(status);
    return new StepError(`Ollama refused the request (HTTP ${status}): ${detail}`, { retryable, cause: error, data: { ...data, status } });
  }

  const codes = causeCodes(error);
  // The HTTP client's own timeouts are off (see ollamaDispatcher); should one fire anyway, it is
  // agent-runner that stopped waiting, not Ollama that closed the connection.
  const clientTimeout = codes.find((code) => code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT');
  if (clientTimeout) {
    return new StepError(`agent-runner's HTTP client stopped waiting for ${model} at ${baseUrl} (${clientTimeout}); Ollama did not end the answer`, { cause: error, data: { ...data, code: clientTimeout } });
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const code = codes.find((candidate) => UNREACHABLE_CODES.has(candidate)) ?? codes[0];
    return new StepError(`Cannot reach Ollama at ${baseUrl}: is it running? Try: curl ${baseUrl}/api/tags`, { cause: error, data: { ...data, code } });
  }
  if (error instanceof TypeError && error.message === 'terminated') {
    return new StepError(
      `Ollama closed the connection in the middle of the answer from ${model}; the answer is incomplete (did the Ollama server stop or restart?)`,
      { cause: error, data },
    );
  }
  if (error.message === 'Did not receive done or success response in stream.') {
    return new StepError(`Ollama ended the answer from ${model} without its final "done" line; the answer may be incomplete`, { cause: error, data });
  }
  return new StepError(`Ollama reported an error while generating with ${model}: ${error.message}`, { cause: error, data });
}

interface OllamaResponseError extends Error {
  error: string;
  status_code: number;
}

/** The client's ResponseError class is not exported: recognise it by its shape. */
function isResponseError(error: Error): error is OllamaResponseError {
  const candidate = error as Partial<OllamaResponseError>;
  return error.name === 'ResponseError' && typeof candidate.status_code === 'number' && typeof candidate.error === 'string';
}

/** Error codes along the cause chain; a refused connection to `localhost` is an AggregateError (IPv6 and IPv4). */
function causeCodes(error: Error): string[] {
  const codes: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (typeof value !== 'object' || value === null || depth > 4) return;
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string' && !codes.includes(code)) codes.push(code);
    if (value instanceof AggregateError) for (const inner of value.errors) visit(inner, depth + 1);
    visit((value as { cause?: unknown }).cause, depth + 1);
  };
  visit(error.cause, 0);
  return codes;
}
