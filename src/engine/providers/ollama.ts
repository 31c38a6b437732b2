import { Ollama } from 'ollama';
import { StepError, coerceError } from '../types.js';

/**
 * An Ollama client whose every request is bound to `signal`. The client has no timeout of its own,
 * and its `abort()` does nothing until the response headers arrive, which is exactly when a slow
 * model load is spent; only a signal handed to `fetch` itself can cancel that wait.
 */
export function createOllama(baseUrl: string, signal: AbortSignal): Ollama {
  const fetchBoundToSignal: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
  return new Ollama({ host: baseUrl, fetch: fetchBoundToSignal });
}

export interface OllamaCallContext {
  baseUrl: string;
  model: string;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const SILENCE_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Client errors that another attempt cannot fix (a timeout or a rate limit can pass). */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 429]);

/** Turns what the ollama client threw into a message a user can act on. */
export function describeOllamaError(thrown: unknown, { baseUrl, model }: OllamaCallContext): StepError {
  if (thrown instanceof StepError) return thrown;
  const error = coerceError(thrown);
  const data = { model, baseUrl };

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
    const retryable = status >= 500 || RETRYABLE_CLIENT_STATUSES.has(status);
    return new StepError(`Ollama refused the request (HTTP ${status}): ${detail}`, { retryable, cause: error, data: { ...data, status } });
  }

  const codes = causeCodes(error);
  if (error instanceof TypeError && error.message === 'fetch failed') {
    if (codes.some((code) => SILENCE_CODES.has(code))) {
      return new StepError(`Ollama at ${baseUrl} stopped answering while generating with ${model} (${codes.join(', ')})`, { cause: error, data });
    }
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
