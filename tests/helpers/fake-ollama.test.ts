import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ollama } from 'ollama';
import { startFakeOllama, type FakeOllama } from './fake-ollama.js';

// created_at as Go's RFC3339Nano writes it (trailing zeros of the fraction trimmed).
const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const METRIC_FIELDS = [
  'total_duration',
  'load_duration',
  'prompt_eval_count',
  'prompt_eval_duration',
  'eval_count',
  'eval_duration',
] as const;

/** Reads an NDJSON body into parsed lines (for checks below the client). */
async function ndjson(res: Response): Promise<any[]> {
  const text = await res.text();
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** Runs `fn` and returns what it threw. */
async function thrown(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('fake Ollama', () => {
  let fake: FakeOllama;
  let ollama: Ollama;

  beforeEach(async () => {
    fake = await startFakeOllama({ models: ['gemma3:27b', 'qwen3:8b'] });
    ollama = new Ollama({ host: fake.url });
  });
  afterEach(async () => {
    await fake.close();
  });

  describe('metadata endpoints', () => {
    it('answers version, tags, ps and show like the real server', async () => {
      expect(await ollama.version()).toEqual({ version: '0.12.10' });

      const raw = await fetch(`${fake.url}/api/tags`);
      expect(raw.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const { models } = await ollama.list();
      expect(models.map((m) => m.name)).toEqual(['gemma3:27b', 'qwen3:8b']);
      expect(models[0]).toMatchObject({
        name: 'gemma3:27b',
        model: 'gemma3:27b',
        size: expect.any(Number),
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
        details: { format: 'gguf', family: 'gemma', parameter_size: '27B', quantization_level: 'Q4_K_M' },
      });
      expect(models[0]!.modified_at).toMatch(RFC3339_NANO);

      // Nothing is loaded until a model has been used.
      expect((await ollama.ps()).models).toEqual([]);
      await ollama.generate({ model: 'gemma3:27b', prompt: '' });
      const ps = await ollama.ps();
      expect(ps.models).toHaveLength(1);
      expect(ps.models[0]).toMatchObject({ name: 'gemma3:27b', size_vram: expect.any(Number) });
      expect(ps.models[0]!.expires_at).toMatch(RFC3339_NANO);

      const show = await ollama.show({ model: 'qwen3:8b' });
      expect(show).toMatchObject({
        modelfile: expect.any(String),
        parameters: expect.any(String),
        template: expect.any(String),
        details: { parameter_size: '8B' },
        capabilities: expect.arrayContaining(['completion']),
      });
      expect(Object.keys(show.model_info)).toContain('general.architecture');
    });

    it('returns the real error statuses and bodies', async () => {
      const post = (path: string, body?: string) =>
        fetch(`${fake.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

      let res = await post('/api/chat', JSON.stringify({ messages: [] }));
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({ error: 'model is required' });

      res = await post('/api/show', JSON.stringify({}));
      expect([res.status, await res.json()]).toEqual([400, { error: 'model is required' }]);

      res = await post('/api/generate');
      expect([res.status, await res.json()]).toEqual([400, { error: 'missing request body' }]);

      res = await post('/api/show', JSON.stringify({ model: 'nope' }));
      expect([res.status, await res.json()]).toEqual([404, { error: "model 'nope' not found" }]);

      res = await fetch(`${fake.url}/api/nothing-here`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('text/plain');
      expect(await res.text()).toBe('404 page not found');
    });
  });

  describe('generate', () => {
    it('streams token by token, then a done line with integer metrics', async () => {
      fake.script('gemma3:27b', { tokens: ['Hel', 'lo', ' world'], tokenDelayMs: 20 });

      const started = Date.now();
      const stream = await ollama.generate({ model: 'gemma3:27b', prompt: 'Say hello', stream: true });
      const parts: any[] = [];
      const arrivals: number[] = [];
      for await (const part of stream) {
        parts.push(part);
        arrivals.push(Date.now() - started);
      }

      expect(parts.map((p) => p.response)).toEqual(['Hel', 'lo', ' world', '']);
      // Lines really arrive one by one, not in one burst at the end.
      expect(arrivals[2]! - arrivals[0]!).toBeGreaterThanOrEqual(30);

      for (const part of parts.slice(0, -1)) {
        expect(Object.keys(part)).toEqual(['model', 'created_at', 'response', 'done']);
        expect(part).toMatchObject({ model: 'gemma3:27b', done: false });
        expect(part.created_at).toMatch(RFC3339_NANO);
      }
      const last = parts.at(-1);
      expect(last).toMatchObject({ model: 'gemma3:27b', response: '', done: true, done_reason: 'stop', eval_count: 3 });
      expect(last.context).toEqual(expect.arrayContaining([expect.any(Number)]));
      for (const field of METRIC_FIELDS) {
        expect(Number.isInteger(last[field]), field).toBe(true);
        expect(last[field], field).toBeGreaterThan(0);
      }
      // eval_duration covers the ~40 ms between the tokens, in nanoseconds.
      expect(last.eval_duration).toBeGreaterThanOrEqual(35e6);
      expect(last.total_duration).toBeGreaterThanOrEqual(last.eval_duration);

      expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/api/generate', model: 'gemma3:27b', stream: true });
      expect(fake.activeStreams()).toBe(0);
    });

    it('uses NDJSON on the wire and treats an absent `stream` as streaming', async () => {
      fake.script('*', { response: 'abcdefghij' });
      const res = await fetch(`${fake.url}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'qwen3:8b', prompt: 'x' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const lines = await ndjson(res);
      // Default chunking: ~4 characters per token.
      expect(lines.map((l) => l.response)).toEqual(['abcd', 'efgh', 'ij', '']);
      expect(lines.at(-1).eval_count).toBe(3);
      expect(fake.requests.at(-1)!.stream).toBe(true);
    });

    it('answers stream:false with one object holding the whole response and metrics', async () => {
      fake.script('gemma3:27b', { tokens: ['a', 'b', 'c'], doneReason: 'length' });
      const res = await ollama.generate({
        model: 'gemma3:27b',
        prompt: 'hi',
        options: { temperature: 0, num_ctx: 4096 },
        keep_alive: '10m',
      });
      expect(res).toMatchObject({ response: 'abc', done: true, done_reason: 'length', eval_count: 3 });
      for (const field of METRIC_FIELDS) expect(Number.isInteger(res[field]), field).toBe(true);

      expect(fake.requests.at(-1)).toMatchObject({
        stream: false,
        options: { temperature: 0, num_ctx: 4096 },
        keep_alive: '10m',
      });
    });

    it('loads the model and returns at once with done_reason "load" for an empty prompt', async () => {
      const res = await ollama.generate({ model: 'gemma3:27b', prompt: '' });
      expect(res).toMatchObject({ response: '', done: true, done_reason: 'load' });
      expect(res.eval_count).toBeUndefined();
    });

    it('sends no headers until firstByteDelayMs has passed', async () => {
      fake.script('*', { firstByteDelayMs: 150, tokens: ['x'] });
      const started = Date.now();
      const res = await fetch(`${fake.url}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'gemma3:27b', prompt: 'x' }),
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      const lines = await ndjson(res);
      expect(lines.at(-1).load_duration).toBeGreaterThanOrEqual(140e6);
    });

    it('reports an unknown model as a ResponseError with status_code 404', async () => {
      const err = await thrown(() => ollama.generate({ model: 'llama9:1t', prompt: 'hi', stream: true }));
      expect(err.name).toBe('ResponseError');
      expect(err.status_code).toBe(404);
      expect(err.error).toBe("model 'llama9:1t' not found");
      expect(err.message).toBe("model 'llama9:1t' not found");
    });

    it('fails a streaming request before the first byte with the scripted status', async () => {
      fake.script('gemma3:27b', {
        errorBeforeHeaders: { status: 500, error: 'llama runner process has terminated: exit status 2' },
      });
      const err = await thrown(() => ollama.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true }));
      expect(err.name).toBe('ResponseError');
      expect(err.status_code).toBe(500);
      expect(err.message).toBe('llama runner process has terminated: exit status 2');
    });

    it('turns a mid-stream error line into a plain Error(message)', async () => {
      fake.script('gemma3:27b', { tokens: ['a', 'b', 'c'], errorAfterTokens: { after: 2, error: 'out of memory' } });
      const stream = await ollama.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true });
      const seen: string[] = [];
      const err = await thrown(async () => {
        for await (const part of stream) seen.push(part.response ?? '');
      });
      expect(seen).toEqual(['a', 'b']);
      expect(err.constructor).toBe(Error);
      expect(err.message).toBe('out of memory');
      expect(fake.disconnects).toBe(0);
    });

    it('makes the client throw when the socket is dropped mid-stream', async () => {
      fake.script('gemma3:27b', { tokens: ['a', 'b', 'c'], dropAfterTokens: 1 });
      const stream = await ollama.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true });
      const seen: string[] = [];
      const err = await thrown(async () => {
        for await (const part of stream) seen.push(part.response ?? '');
      });
      expect(seen).toEqual(['a']);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe('terminated');
      // The fake dropped it itself: not a client disconnect.
      expect(fake.disconnects).toBe(0);
    });

    it('makes the client throw when the body ends without a done line', async () => {
      fake.script('gemma3:27b', { tokens: ['a', 'b'], endWithoutDone: true });
      const stream = await ollama.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true });
      const err = await thrown(async () => {
        for await (const _ of stream) {
          /* drain */
        }
      });
      expect(err.message).toBe('Did not receive done or success response in stream.');
    });

    it('counts a disconnect and stops generating when the iterator is aborted', async () => {
      fake.script('gemma3:27b', { tokens: Array.from({ length: 100 }, (_, i) => `t${i} `), tokenDelayMs: 10 });
      const stream = await ollama.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true });
      expect(fake.activeStreams()).toBe(1);
      let received = 0;
      const err = await thrown(async () => {
        for await (const _ of stream) {
          if (++received === 2) stream.abort();
        }
      });
      expect(err.name).toBe('AbortError');
      await fake.waitForDisconnects(1, 2000);
      expect(fake.disconnects).toBe(1);
      expect(fake.activeStreams()).toBe(0);
    });

    it('counts a disconnect when a stalled request is aborted through a custom fetch signal', async () => {
      fake.script('gemma3:27b', { stallBeforeHeaders: true });
      const controller = new AbortController();
      const client = new Ollama({
        host: fake.url,
        fetch: (input, init) => fetch(input, { ...init, signal: controller.signal }),
      });
      const pending = client.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true });
      // Wait until the fake holds the request, then give up on it.
      await expect.poll(() => fake.activeStreams()).toBe(1);
      controller.abort();
      const err = await thrown(() => pending);
      expect(err.name).toBe('AbortError');
      await fake.waitForDisconnects(1, 2000);
      expect(fake.activeStreams()).toBe(0);
    });

    it('rejects waitForDisconnects after its timeout', async () => {
      await expect(fake.waitForDisconnects(1, 50)).rejects.toThrow(/disconnect/);
    });

    it('lets a script function choose per request', async () => {
      fake.script('*', (req) => ({ response: `echo:${req.body.prompt}` }));
      const res = await ollama.generate({ model: 'qwen3:8b', prompt: 'ping' });
      expect(res.response).toBe('echo:ping');
    });
  });

  describe('chat', () => {
    it('streams thinking, content and tool calls, and ends without context', async () => {
      fake.script('qwen3:8b', {
        thinking: ['Need ', 'the weather.'],
        tokens: ['Let me ', 'check.'],
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
      });
      const stream = await ollama.chat({
        model: 'qwen3:8b',
        think: true,
        stream: true,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          },
        ],
      });
      const parts: any[] = [];
      for await (const part of stream) parts.push(part);

      expect(parts.map((p) => p.message.thinking ?? null)).toEqual(['Need ', 'the weather.', null, null, null, null]);
      expect(parts.map((p) => p.message.content)).toEqual(['', '', 'Let me ', 'check.', '', '']);
      const toolLine = parts[4];
      expect(toolLine.message).toEqual({
        role: 'assistant',
        content: '',
        tool_calls: [
          { id: expect.stringMatching(/^call_/), function: { index: 0, name: 'get_weather', arguments: { city: 'Paris' } } },
        ],
      });
      const last = parts.at(-1);
      expect(last).toMatchObject({ done: true, done_reason: 'stop', message: { role: 'assistant', content: '' } });
      expect(last.context).toBeUndefined();
      expect(Object.keys(last)).toEqual(['model', 'created_at', 'message', 'done_reason', 'done', ...METRIC_FIELDS]);
    });

    it('answers stream:false with the whole message', async () => {
      fake.script('qwen3:8b', { response: 'Hi there', toolCalls: [{ name: 'noop', arguments: {} }] });
      const res = await ollama.chat({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.message).toMatchObject({ role: 'assistant', content: 'Hi there', tool_calls: [{ function: { name: 'noop' } }] });
      expect(res.done).toBe(true);
    });

    it('refuses think for a model without the thinking capability, before loading it', async () => {
      fake.script('gemma3:27b', { response: 'ok', firstByteDelayMs: 10_000 });
      const error = await thrown(() => ollama.chat({ model: 'gemma3:27b', think: 'low', messages: [{ role: 'user', content: 'hi' }] }));
      expect(error).toMatchObject({ name: 'ResponseError', status_code: 400, error: '"gemma3:27b" does not support thinking' });
      expect((await ollama.show({ model: 'qwen3:8b' })).capabilities).toContain('thinking');
      // think:false is no request to think.
      fake.script('gemma3:27b', { response: 'ok' });
      expect((await ollama.chat({ model: 'gemma3:27b', think: false, messages: [{ role: 'user', content: 'hi' }] })).message.content).toBe('ok');
    });

    it('can garble the stream with a line that is not JSON', async () => {
      fake.script('qwen3:8b', { tokens: ['a', 'b'], rawLineAfterTokens: { after: 1, line: 'not json' } });
      const res = await fetch(`${fake.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'qwen3:8b', prompt: 'x' }) });
      const lines = (await res.text()).split('\n');
      expect(lines[1]).toBe('not json');
      expect(JSON.parse(lines[2]!)).toMatchObject({ response: 'b' });
    });

    it('omits thinking unless the request asks for it', async () => {
      fake.script('qwen3:8b', { thinking: ['hmm'], response: 'ok' });
      const res = await ollama.chat({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.message.thinking).toBeUndefined();
      expect(res.message.content).toBe('ok');
    });
  });

  describe('pull', () => {
    it('streams progress and installs the model', async () => {
      const stream = await ollama.pull({ model: 'llama3.2:1b', stream: true });
      const statuses: string[] = [];
      for await (const part of stream) statuses.push(part.status);
      expect(statuses[0]).toBe('pulling manifest');
      expect(statuses).toContain('verifying sha256 digest');
      expect(statuses.slice(-2)).toEqual(['writing manifest', 'success']);
      expect(statuses.some((s) => /^pulling [0-9a-f]{12}$/.test(s))).toBe(true);

      expect((await ollama.list()).models.map((m) => m.name)).toContain('llama3.2:1b');
      const res = await ollama.generate({ model: 'llama3.2:1b', prompt: 'hi' });
      expect(res.done).toBe(true);
      expect(fake.requests.find((r) => r.path === '/api/pull')).toMatchObject({ model: 'llama3.2:1b', stream: true });
    });

    it('fails an unknown model after the manifest line', async () => {
      fake.setPullable(['gemma3:4b']);
      const stream = await ollama.pull({ model: 'nope:1b', stream: true });
      const statuses: string[] = [];
      const err = await thrown(async () => {
        for await (const part of stream) statuses.push(part.status);
      });
      expect(statuses).toEqual(['pulling manifest']);
      expect(err.message).toBe('pull model manifest: file does not exist');
      expect((await ollama.list()).models.map((m) => m.name)).not.toContain('nope:1b');

      const nonStreamed = await thrown(() => ollama.pull({ model: 'nope:1b' }));
      expect([nonStreamed.name, nonStreamed.status_code]).toEqual(['ResponseError', 500]);
    });
  });

  it('close() does not hang on open or stalled streams', async () => {
    const other = await startFakeOllama({ models: ['gemma3:27b'] });
    other.script('*', { stallBeforeHeaders: true });
    const client = new Ollama({ host: other.url });
    const pending = client.generate({ model: 'gemma3:27b', prompt: 'hi', stream: true }).catch((e: unknown) => e);
    await expect.poll(() => other.activeStreams()).toBe(1);
    await other.close();
    expect(await pending).toBeInstanceOf(TypeError); // fetch failed: the socket went away
    expect(other.disconnects).toBe(0);
  });
});
