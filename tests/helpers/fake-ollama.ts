/**
 * A fake Ollama HTTP server for tests.
 *
 * It speaks the real Ollama wire format (see /work/shared/OLLAMA-API.md): same paths, status codes,
 * error texts, content types, NDJSON streaming and field layout, so the app's `ollama` client works
 * against it unchanged. Behaviour per request is driven by scripts (`fake.script(model, …)`): token
 * timing, model-load delay, errors before the first byte or mid-stream, dropped sockets, stalls,
 * thinking chunks and tool calls.
 *
 * Only node:http is used; the server runs inside the test process and `close()` never hangs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** An installed model. `setModels` also accepts plain names. */
export interface FakeModel {
  name: string;
  /** tokens to stream for generate/chat when no script matches */
  tokens?: string[];
  /** alternative to `tokens` (split into ~4-char chunks) */
  response?: string;
  /**
   * reported by /api/show (default ['completion', 'tools'], plus 'thinking' for reasoning families:
   * qwen3, deepseek-r1, gpt-oss, qwq, magistral). generate/chat with a truthy `think` answer 400
   * `"NAME" does not support thinking` unless it holds 'thinking'.
   */
  capabilities?: string[];
  /** reported by /api/show as `<family>.context_length` and by /api/ps (default 8192) */
  contextLength?: number;
  /** details.family (default: the name without tag and trailing version digits) */
  family?: string;
  /** details.parameter_size (default: from the tag, e.g. '27b' → '27B', else '8.0B') */
  parameterSize?: string;
  /** details.quantization_level (default: from the tag, else 'Q4_K_M') */
  quantizationLevel?: string;
  /** bytes (default: derived from the parameter size) */
  size?: number;
}

export interface GenerateScript {
  /** tokens streamed one per line (default: the response split into ~4-char chunks) */
  tokens?: string[];
  response?: string; // alternative to tokens
  firstByteDelayMs?: number; // wait before status+headers are sent (model loading)
  tokenDelayMs?: number; // delay between token lines
  /** after N content tokens, pause this long before the next line (a model pausing mid-answer) */
  pauseAfterTokens?: { after: number; ms: number };
  /** error before the first byte: {status, error} e.g. 500 "llama runner process has terminated: …" */
  errorBeforeHeaders?: { status: number; error: string };
  /** after N tokens, send one `{"error":"…"}` line and close */
  errorAfterTokens?: { after: number; error: string };
  /** after N tokens, destroy the socket (no done line) */
  dropAfterTokens?: number;
  /** after all tokens, end the body without the done line */
  endWithoutDone?: boolean;
  /**
   * after N content tokens, write `line` as it is (not JSON) and go on: a stream garbled on its way
   * (a proxy, a broken connection), which the real server never sends itself
   */
  rawLineAfterTokens?: { after: number; line: string };
  /** never send headers (stall) until the client goes away */
  stallBeforeHeaders?: boolean;
  doneReason?: 'stop' | 'length';
  /**
   * thinking chunks before content (chat & generate). Like the real server, they are only sent when
   * the request asks for them with a truthy `think`.
   */
  thinking?: string[];
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>; // chat only
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** `model` from the body (or `name`, which the client sends for pull) */
  model?: string;
  /** parsed JSON body; the raw text when it is not JSON; undefined when empty */
  body: any;
  /** what the server understood: `stream` absent means streaming; false for GETs */
  stream: boolean;
  options?: unknown;
  keep_alive?: unknown;
  receivedAt: number;
  headers: IncomingHttpHeaders;
}

export type ScriptSource = GenerateScript | ((req: RecordedRequest) => GenerateScript);

export interface FakeOllama {
  url: string; // http://127.0.0.1:PORT
  requests: RecordedRequest[];
  /** number of /api/generate and /api/chat requests whose client disconnected before the response finished */
  disconnects: number;
  /** resolves when `disconnects` reaches n (reject after timeoutMs, default 5000) */
  waitForDisconnects(n: number, timeoutMs?: number): Promise<void>;
  /** installed models (names like 'gemma3:27b'); generate/chat for others → 404 `model 'NAME' not found` */
  setModels(models: Array<string | FakeModel>): void;
  /**
   * Models /api/pull can fetch; pulling any other name fails like the real registry
   * ("pull model manifest: file does not exist"). Default: every name can be pulled.
   */
  setPullable(names: string[] | '*'): void;
  /**
   * Script for the following requests to a model (or '*' for any), until replaced. A function
   * may choose per request. Lookup: exact model → '*' → the model's own tokens → defaultScript.
   */
  script(model: string, script: ScriptSource): void;
  /** currently open generate/chat requests (from arrival, including loading/stalled ones, until finished) */
  activeStreams(): number;
  close(): Promise<void>;
}

export interface StartFakeOllamaOptions {
  models?: Array<string | FakeModel>;
  port?: number;
  defaultScript?: GenerateScript;
  /** see FakeOllama.setPullable (default '*') */
  pullable?: string[] | '*';
  /** delay between /api/pull progress lines (default 0) */
  pullStepDelayMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Wire-format helpers
// ---------------------------------------------------------------------------------------------

const VERSION = '0.12.10';
const JSON_TYPE = 'application/json; charset=utf-8';
const NDJSON_TYPE = 'application/x-ndjson';
const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/**
 * JSON as Go's encoding/json writes it: Go escapes <, >, & and U+2028/2029 inside strings. Those
 * characters can only occur inside strings in JSON.stringify output, so a global replace is safe.
 */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

// Wall clock with sub-millisecond precision: Date gives ms, hrtime gives the ns within them.
const hrtimeOrigin = process.hrtime.bigint();
const wallOriginNs = BigInt(Date.now()) * 1_000_000n;
function nowNs(): bigint {
  return wallOriginNs + (process.hrtime.bigint() - hrtimeOrigin);
}

/**
 * RFC3339 UTC with nanoseconds, formatted like Go's time.RFC3339Nano (which the real server uses):
 * trailing zeros of the fraction are trimmed, so the fraction has 1–9 digits (or none).
 */
function rfc3339Nano(ns: bigint = nowNs()): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${fraction ? '.' + fraction : ''}Z`;
}

const msToNs = (ms: number): number => Math.max(1, Math.round(ms * 1e6));

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `gemma3` means `gemma3:latest`, as in Ollama's name parsing. */
function normalizeName(name: string): string {
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? name : `${name}:latest`;
}

/** Splits text into ~4-character chunks (by code point, so emoji are never cut in half). */
function chunkText(text: string): string[] {
  const chars = Array.from(text);
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += 4) chunks.push(chars.slice(i, i + 4).join(''));
  return chunks;
}

/**
 * keep_alive as the server reads it (api.Duration): a number is seconds, a string is a Go duration
 * ("5m", "1h30m", "300ms"); negative means forever. Returns ms.
 */
function parseKeepAlive(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_KEEP_ALIVE_MS;
  if (typeof value === 'number') return value < 0 ? Infinity : value * 1000;
  if (typeof value !== 'string') return DEFAULT_KEEP_ALIVE_MS;
  if (/^-?\d+(\.\d+)?$/.test(value)) return parseKeepAlive(Number(value));
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const negative = value.startsWith('-');
  let total = 0;
  for (const [, amount, unit] of value.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(amount) * (units[unit!] ?? 0);
  }
  return negative ? Infinity : total;
}

// ---------------------------------------------------------------------------------------------
// Installed models
// ---------------------------------------------------------------------------------------------

interface ModelEntry {
  spec: FakeModel;
  name: string; // normalized
  digest: string; // 64 hex, no "sha256:" prefix (as in /api/tags)
  modifiedAt: string;
  family: string;
  parameterSize: string;
  parameterCount: number;
  quantizationLevel: string;
  size: number;
  contextLength: number;
  capabilities: string[];
}

/** Model names (without tag) whose real models report the 'thinking' capability. */
const THINKING_FAMILIES = new Set(['qwen3', 'deepseek-r1', 'gpt-oss', 'qwq', 'magistral']);

function makeModelEntry(model: string | FakeModel): ModelEntry {
  const spec: FakeModel = typeof model === 'string' ? { name: model } : model;
  const name = normalizeName(spec.name);
  const base = name.slice(name.lastIndexOf('/') + 1).split(':')[0]!;
  const tag = name.split(':').pop() ?? '';

  const sizeMatch = /(\d+(?:\.\d+)?)([bm])/i.exec(tag);
  const parameterSize = spec.parameterSize ?? (sizeMatch ? `${sizeMatch[1]}${sizeMatch[2]!.toUpperCase()}` : '8.0B');
  const psMatch = /^(\d+(?:\.\d+)?)([BM])$/i.exec(parameterSize);
  const parameterCount = psMatch
    ? Math.round(Number(psMatch[1]) * (psMatch[2]!.toUpperCase() === 'B' ? 1e9 : 1e6))
    : 8e9;
  const quantMatch = /(q\d\w*|fp16|bf16)/i.exec(tag);

  return {
    spec,
    name,
    digest: sha256Hex(name),
    modifiedAt: rfc3339Nano(),
    family: spec.family ?? (base.replace(/[\d.]+$/, '') || base),
    parameterSize,
    parameterCount,
    quantizationLevel: spec.quantizationLevel ?? (quantMatch ? quantMatch[1]!.toUpperCase() : 'Q4_K_M'),
    // ~4.8 bits per weight, roughly what a Q4_K_M GGUF weighs.
    size: spec.size ?? Math.round(parameterCount * 0.6),
    contextLength: spec.contextLength ?? 8192,
    capabilities: spec.capabilities ?? (THINKING_FAMILIES.has(base) ? ['completion', 'tools', 'thinking'] : ['completion', 'tools']),
  };
}

function modelDetails(m: ModelEntry) {
  return {
    parent_model: '',
    format: 'gguf',
    family: m.family,
    families: [m.family],
    parameter_size: m.parameterSize,
    quantization_level: m.quantizationLevel,
  };
}

// ---------------------------------------------------------------------------------------------
// Per-request state: cancellable waits, so a disconnect stops generation at once
// ---------------------------------------------------------------------------------------------

class Exchange {
  /** the client went away (or the fake is closing) before the response finished */
  gone = false;
  private pending: { timer: NodeJS.Timeout; resolve: (ok: boolean) => void } | undefined;
  private goneWaiters: Array<() => void> = [];

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  /** Resolves true after `ms`, or false as soon as the client disconnects (the timer is cleared). */
  sleep(ms: number | undefined): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    if (!ms || ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve(!this.gone);
      }, ms);
      this.pending = { timer, resolve };
    });
  }

  /** Resolves when the client goes away. */
  untilGone(): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve) => this.goneWaiters.push(resolve));
  }

  markGone(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending.resolve(false);
      this.pending = undefined;
    }
    for (const waiter of this.goneWaiters.splice(0)) waiter();
  }

  sendJson(status: number, body: unknown): void {
    if (this.gone) return;
    this.res.writeHead(status, { 'Content-Type': JSON_TYPE });
    this.res.end(goJson(body));
  }

  sendError(status: number, error: string): void {
    this.sendJson(status, { error });
  }

  /** Starts an NDJSON stream. Node only puts the headers on the wire with the first line. */
  startStream(): void {
    this.res.writeHead(200, { 'Content-Type': NDJSON_TYPE });
  }

  /** Writes one NDJSON line; resolves once it has been handed to the socket. */
  writeLine(value: unknown): Promise<void> {
    return this.writeRaw(goJson(value) + '\n');
  }

  /** Writes text to the body as it is. */
  writeRaw(text: string): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve) => {
      this.res.write(text, () => resolve());
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

interface Waiter {
  n: number;
  resolve: () => void;
}

class FakeOllamaServer implements FakeOllama {
  url = '';
  requests: RecordedRequest[] = [];
  disconnects = 0;

  private readonly server = createServer((req, res) => this.handle(req, res));
  private readonly sockets = new Set<Socket>();
  private readonly models = new Map<string, ModelEntry>();
  /** loaded models for /api/ps: name → expiry (ms since epoch, Infinity = forever) */
  private readonly loaded = new Map<string, number>();
  private readonly scripts = new Map<string, ScriptSource>();
  private readonly open = new Set<Exchange>();
  private disconnectWaiters: Waiter[] = [];
  private pullable: Set<string> | '*';
  private closing = false;

  constructor(private readonly opts: StartFakeOllamaOptions) {
    this.setModels(opts.models ?? []);
    this.pullable = '*';
    this.setPullable(opts.pullable ?? '*');
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  // --- public API ----------------------------------------------------------------------------

  setModels(models: Array<string | FakeModel>): void {
    this.models.clear();
    for (const m of models) {
      const entry = makeModelEntry(m);
      this.models.set(entry.name, entry);
    }
  }

  setPullable(names: string[] | '*'): void {
    this.pullable = names === '*' ? '*' : new Set(names.map(normalizeName));
  }

  script(model: string, script: ScriptSource): void {
    this.scripts.set(model === '*' ? '*' : normalizeName(model), script);
  }

  activeStreams(): number {
    return this.open.size;
  }

  waitForDisconnects(n: number, timeoutMs = 5000): Promise<void> {
    if (this.disconnects >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.disconnectWaiters = this.disconnectWaiters.filter((w) => w !== waiter);
        reject(new Error(`fake-ollama: expected ${n} disconnect(s) within ${timeoutMs} ms, saw ${this.disconnects}`));
      }, timeoutMs);
      this.disconnectWaiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const exchange of this.open) exchange.markGone();
    for (const waiter of this.disconnectWaiters.splice(0)) waiter.resolve(); // nothing more will come
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Destroy every socket, idle keep-alive ones included, so server.close() returns at once.
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  // --- request handling ----------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => {
      /* client aborted while sending; nothing to answer */
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      this.route(req, res, text, receivedAt).catch((err: unknown) => {
        // A bug in the fake: fail loudly in the test rather than hanging it.
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': JSON_TYPE });
          res.end(goJson({ error: `fake-ollama internal error: ${String(err)}` }));
        } else {
          res.destroy();
        }
      });
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse, text: string, receivedAt: number): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://fake').pathname;

    let body: any;
    let parseError: string | undefined;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch (err) {
        body = text;
        parseError = (err as Error).message;
      }
    }
    const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
    const fields: Record<string, any> = isObject ? body : {};
    const model: unknown = fields.model || fields.name;

    const recorded: RecordedRequest = {
      method,
      path,
      model: typeof model === 'string' ? model : undefined,
      body,
      stream: method === 'POST' ? fields.stream !== false : false,
      options: fields.options,
      keep_alive: fields.keep_alive,
      receivedAt,
      headers: req.headers,
    };
    this.requests.push(recorded);

    const exchange = new Exchange(req, res);
    const key = `${method} ${path}`;
    const isGeneration = key === 'POST /api/generate' || key === 'POST /api/chat';
    if (isGeneration) this.track(exchange);

    switch (key) {
      case 'GET /':
      case 'HEAD /':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Ollama is running');
        return;
      case 'GET /api/version':
      case 'HEAD /api/version':
        return exchange.sendJson(200, { version: VERSION });
      case 'GET /api/tags':
      case 'HEAD /api/tags':
        return exchange.sendJson(200, { models: [...this.models.values()].map((m) => this.tagEntry(m)) });
      case 'GET /api/ps':
        return exchange.sendJson(200, { models: this.psEntries() });
    }

    if (method === 'POST' && ['/api/show', '/api/generate', '/api/chat', '/api/pull'].includes(path)) {
      // Same order of checks as the server's JSON binding.
      if (body === undefined) return exchange.sendError(400, 'missing request body');
      if (parseError !== undefined) return exchange.sendError(400, parseError);
      if (!isObject) {
        return exchange.sendError(400, `json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value`);
      }
      switch (path) {
        case '/api/show':
          return this.show(exchange, fields);
        case '/api/pull':
          return this.pull(exchange, fields, recorded.stream);
        case '/api/generate':
        case '/api/chat':
          return this.generate(exchange, recorded, fields, path === '/api/chat');
      }
    }

    // Gin's default 404 (it does not answer 405 for a wrong method either).
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 page not found');
  }

  /** Tracks an open generate/chat response and counts it as a disconnect if it closes unfinished. */
  private track(exchange: Exchange): void {
    this.open.add(exchange);
    let serverDropped = false;
    exchange.res.on('close', () => {
      this.open.delete(exchange);
      // writableEnded: we called end(), so the response completed from our side.
      const unfinished = !exchange.res.writableEnded;
      serverDropped = serverDropped || exchange.gone; // dropAfterTokens / close() mark gone first
      exchange.markGone();
      if (unfinished && !serverDropped && !this.closing) this.countDisconnect();
    });
  }

  private countDisconnect(): void {
    this.disconnects += 1;
    const ready = this.disconnectWaiters.filter((w) => this.disconnects >= w.n);
    this.disconnectWaiters = this.disconnectWaiters.filter((w) => this.disconnects < w.n);
    for (const waiter of ready) waiter.resolve();
  }

  private tagEntry(m: ModelEntry) {
    return {
      name: m.name,
      model: m.name,
      modified_at: m.modifiedAt,
      size: m.size,
      digest: m.digest,
      details: modelDetails(m),
    };
  }

  private psEntries() {
    const now = Date.now();
    const entries = [];
    for (const [name, expiresAt] of this.loaded) {
      const m = this.models.get(name);
      if (!m || expiresAt <= now) {
        this.loaded.delete(name);
        continue;
      }
      entries.push({
        name: m.name,
        model: m.name,
        size: m.size,
        digest: m.digest,
        details: modelDetails(m),
        // "forever" shows up as a date far in the future.
        expires_at: rfc3339Nano(BigInt(Number.isFinite(expiresAt) ? expiresAt : now + 100 * 365 * 86_400_000) * 1_000_000n),
        size_vram: m.size,
        context_length: m.contextLength,
      });
    }
    return entries;
  }

  private show(exchange: Exchange, fields: Record<string, any>): void {
    const name: unknown = fields.model || fields.name;
    if (typeof name !== 'string' || name === '') return exchange.sendError(400, 'model is required');
    const m = this.models.get(normalizeName(name));
    if (!m) return exchange.sendError(404, `model '${name}' not found`);
    exchange.sendJson(200, {
      modelfile:
        `# Modelfile generated by "ollama show"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM ${m.name}\n\n` +
        `FROM /usr/share/ollama/.ollama/models/blobs/sha256-${m.digest}\nTEMPLATE {{ .Prompt }}\nPARAMETER temperature 1\n`,
      parameters: 'temperature                    1',
      template: '{{ .Prompt }}',
      details: modelDetails(m),
      model_info: {
        'general.architecture': m.family,
        'general.parameter_count': m.parameterCount,
        [`${m.family}.context_length`]: m.contextLength,
      },
      capabilities: m.capabilities,
      modified_at: m.modifiedAt,
    });
  }

  private async pull(exchange: Exchange, fields: Record<string, any>, stream: boolean): Promise<void> {
    const requested: unknown = fields.model || fields.name;
    if (typeof requested !== 'string' || requested === '') return exchange.sendError(400, 'invalid model name');
    const name = normalizeName(requested);
    const known = this.pullable === '*' || this.pullable.has(name);
    const manifestError = 'pull model manifest: file does not exist';

    // Progress lines as the registry client reports them: one "pulling <digest>" series per layer.
    const lines: Array<Record<string, unknown>> = [{ status: 'pulling manifest' }];
    if (known) {
      const entry = this.models.get(name) ?? makeModelEntry(name);
      for (const [layer, total] of [
        ['weights', entry.size],
        ['template', 1_234],
      ] as const) {
        const digest = sha256Hex(`${name}/${layer}`);
        const status = `pulling ${digest.slice(0, 12)}`;
        // `completed` is omitted while 0 (Go omitempty).
        lines.push({ status, digest: `sha256:${digest}`, total });
        lines.push({ status, digest: `sha256:${digest}`, total, completed: Math.floor(total / 2) });
        lines.push({ status, digest: `sha256:${digest}`, total, completed: total });
      }
      lines.push({ status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' });
    }

    if (!stream) {
      // Non-streaming pull waits for the end and answers the last status, or the error with 500.
      for (let i = 0; i < lines.length; i++) if (!(await exchange.sleep(this.opts.pullStepDelayMs))) return;
      if (!known) return exchange.sendError(500, manifestError);
      this.installPulled(name);
      return exchange.sendJson(200, { status: 'success' });
    }

    exchange.startStream();
    for (const [i, line] of lines.entries()) {
      if (i > 0 && !(await exchange.sleep(this.opts.pullStepDelayMs))) return;
      if (line.status === 'success') this.installPulled(name);
      await exchange.writeLine(line);
    }
    if (!known) await exchange.writeLine({ error: manifestError });
    if (!exchange.gone) exchange.res.end();
  }

  private installPulled(name: string): void {
    if (!this.models.has(name)) this.models.set(name, makeModelEntry(name));
  }

  private resolveScript(recorded: RecordedRequest, modelName: string): GenerateScript {
    const source = this.scripts.get(modelName) ?? this.scripts.get('*');
    if (source) return typeof source === 'function' ? source(recorded) : source;
    const spec = this.models.get(modelName)?.spec;
    if (spec?.tokens || spec?.response !== undefined) {
      return { ...this.opts.defaultScript, tokens: spec.tokens, response: spec.response };
    }
    return this.opts.defaultScript ?? {};
  }

  /** POST /api/generate and /api/chat. */
  private async generate(exchange: Exchange, recorded: RecordedRequest, fields: Record<string, any>, chat: boolean): Promise<void> {
    const started = performance.now();
    const requested: unknown = fields.model;
    if (chat && (typeof requested !== 'string' || requested === '')) return exchange.sendError(400, 'model is required');
    const sentName = typeof requested === 'string' ? requested : '';
    const modelName = normalizeName(sentName);
    const model = this.models.get(modelName);
    // The reply echoes the name as sent (e.g. "gemma3", not "gemma3:latest").
    if (!sentName || !model) return exchange.sendError(404, `model '${sentName}' not found`);

    // Capabilities are checked before the model is loaded (no wait), with the name as sent.
    if (fields.think && !model.capabilities.includes('thinking')) {
      return exchange.sendError(400, `${JSON.stringify(sentName)} does not support thinking`);
    }
    if (chat && Array.isArray(fields.tools) && fields.tools.length > 0 && !model.capabilities.includes('tools')) {
      return exchange.sendError(400, `${JSON.stringify(sentName)} does not support tools`);
    }

    const script = this.resolveScript(recorded, modelName);

    // --- before the first byte: model loading -------------------------------------------------
    if (script.stallBeforeHeaders) return exchange.untilGone();
    if (!(await exchange.sleep(script.firstByteDelayMs))) return;
    const loadDurationNs = msToNs(performance.now() - started);
    if (script.errorBeforeHeaders) {
      return exchange.sendError(script.errorBeforeHeaders.status, script.errorBeforeHeaders.error);
    }
    const keepAliveMs = parseKeepAlive(fields.keep_alive);
    this.loaded.set(modelName, Date.now() + keepAliveMs);
    const finishLoadedModel = () => {
      // keep_alive counts from the end of the request; 0 unloads right away.
      if (keepAliveMs === 0) this.loaded.delete(modelName);
      else this.loaded.set(modelName, Date.now() + keepAliveMs);
    };

    const header = () => ({ model: sentName, created_at: rfc3339Nano() });

    // An empty prompt / no messages only loads the model; the answer is a plain JSON object even
    // when streaming was asked for (the client parses it as a one-line stream).
    const messages: unknown[] = Array.isArray(fields.messages) ? fields.messages : [];
    const isLoadOnly = chat ? messages.length === 0 : !fields.prompt && !(Array.isArray(fields.images) && fields.images.length);
    if (isLoadOnly) {
      finishLoadedModel();
      return exchange.sendJson(
        200,
        chat
          ? { ...header(), message: { role: 'assistant', content: '' }, done_reason: 'load', done: true }
          : { ...header(), response: '', done: true, done_reason: 'load' },
      );
    }

    // --- what to produce ----------------------------------------------------------------------
    let tokens = script.tokens ?? chunkText(script.response ?? `This is a fake response from ${sentName}.`);
    let doneReason: string = script.doneReason ?? 'stop';
    const numPredict: unknown = fields.options?.num_predict;
    if (typeof numPredict === 'number' && numPredict > 0 && tokens.length > numPredict) {
      tokens = tokens.slice(0, numPredict);
      doneReason = 'length';
    }
    const thinking = fields.think ? (script.thinking ?? []) : [];
    const toolCalls = chat ? (script.toolCalls ?? []) : [];

    const promptText = chat
      ? messages.map((m) => (m && typeof m === 'object' && 'content' in m ? String(m.content) : '')).join('\n')
      : `${fields.system ?? ''}${fields.prompt ?? ''}`;
    const priorContext: number = Array.isArray(fields.context) ? fields.context.length : 0;
    const promptEvalCount = Math.max(1, Math.ceil(promptText.length / 4)) + priorContext;
    const promptEvalDurationNs = promptEvalCount * 50_000;

    // Lines in the real field order: generate has done before done_reason, chat the other way round.
    const contentLine = (content: string, extra: { thinking?: string; tool_calls?: unknown[] } = {}) =>
      chat
        ? { ...header(), message: { role: 'assistant', content, ...extra }, done: false }
        : { ...header(), response: content, ...(extra.thinking !== undefined ? { thinking: extra.thinking } : {}), done: false };

    let evalStarted = 0;
    const metrics = (evalCount: number) => {
      const evalDurationNs = msToNs(performance.now() - evalStarted);
      const totalNs = Math.max(msToNs(performance.now() - started), loadDurationNs + promptEvalDurationNs + evalDurationNs);
      return {
        total_duration: totalNs,
        load_duration: loadDurationNs,
        prompt_eval_count: promptEvalCount,
        prompt_eval_duration: promptEvalDurationNs,
        eval_count: evalCount,
        eval_duration: evalDurationNs,
      };
    };
    const finalLine = (evalCount: number, whole?: { content: string; thinking: string; toolCalls: unknown[] }) => {
      const m = metrics(evalCount);
      if (chat) {
        const message: Record<string, unknown> = { role: 'assistant', content: whole?.content ?? '' };
        if (whole?.thinking) message.thinking = whole.thinking;
        if (whole?.toolCalls.length) message.tool_calls = whole.toolCalls;
        return { ...header(), message, done_reason: doneReason, done: true, ...m };
      }
      const context = Array.from({ length: promptEvalCount + evalCount }, (_, i) => 1000 + i);
      return {
        ...header(),
        response: whole?.content ?? '',
        ...(whole?.thinking ? { thinking: whole.thinking } : {}),
        done: true,
        done_reason: doneReason,
        context,
        ...m,
      };
    };
    const toolCallObjects = toolCalls.map((call, index) => ({
      id: `call_${randomBytes(4).toString('hex')}`,
      function: { index, name: call.name, arguments: call.arguments },
    }));

    // Where the script interrupts the output, counted in content tokens (clamped to the last one).
    const clamp = (n: number) => Math.min(Math.max(0, n), tokens.length);
    const errorAt = script.errorAfterTokens ? clamp(script.errorAfterTokens.after) : undefined;
    const dropAt = script.dropAfterTokens !== undefined ? clamp(script.dropAfterTokens) : undefined;
    const dropSocket = () => {
      // Mark first so the close is not counted as a client disconnect.
      exchange.markGone();
      exchange.res.socket?.destroy();
    };

    // --- stream:false: generate everything, then answer one object ------------------------------
    if (!recorded.stream) {
      evalStarted = performance.now();
      const interruptAt = Math.min(errorAt ?? Infinity, dropAt ?? Infinity);
      const produced = thinking.length + Math.min(tokens.length, interruptAt);
      // Same wall time as the stream would take; nothing is sent meanwhile.
      if (!(await exchange.sleep((script.tokenDelayMs ?? 0) * Math.max(0, produced - 1)))) return;
      if (errorAt !== undefined && errorAt === interruptAt) return exchange.sendError(500, script.errorAfterTokens!.error);
      if (dropAt !== undefined) return dropSocket();
      finishLoadedModel();
      const whole = { content: tokens.join(''), thinking: thinking.join(''), toolCalls: toolCallObjects };
      if (script.endWithoutDone) {
        // The server hands back the last partial response it had.
        return exchange.sendJson(200, { ...contentLine(whole.content), done: false });
      }
      return exchange.sendJson(200, finalLine(thinking.length + tokens.length, whole));
    }

    // --- streaming ----------------------------------------------------------------------------
    exchange.startStream();
    evalStarted = performance.now();
    let lineCount = 0;
    /** Writes a line (after tokenDelayMs, except the first); false once the client has gone. */
    const emit = async (line: unknown): Promise<boolean> => {
      if (lineCount > 0 && !(await exchange.sleep(script.tokenDelayMs))) return false;
      lineCount += 1;
      await exchange.writeLine(line);
      return !exchange.gone;
    };
    /** Ends the stream if the script interrupts it after `sent` content tokens. */
    const interrupted = async (sent: number): Promise<boolean> => {
      if (errorAt === sent) {
        // The real server writes one error line and finishes the response.
        await exchange.writeLine({ error: script.errorAfterTokens!.error });
        exchange.res.end();
        return true;
      }
      if (dropAt === sent) {
        dropSocket();
        return true;
      }
      return false;
    };

    for (const chunk of thinking) {
      if (!(await emit(contentLine('', { thinking: chunk })))) return;
    }
    if (await interrupted(0)) return;
    for (const [i, token] of tokens.entries()) {
      if (!(await emit(contentLine(token)))) return;
      if (script.rawLineAfterTokens?.after === i + 1) await exchange.writeRaw(`${script.rawLineAfterTokens.line}\n`);
      if (await interrupted(i + 1)) return;
      if (script.pauseAfterTokens?.after === i + 1 && !(await exchange.sleep(script.pauseAfterTokens.ms))) return;
    }
    if (toolCallObjects.length && !(await emit(contentLine('', { tool_calls: toolCallObjects })))) return;
    if (!script.endWithoutDone) {
      if (lineCount > 0 && !(await exchange.sleep(script.tokenDelayMs))) return;
      await exchange.writeLine(finalLine(thinking.length + tokens.length));
    }
    finishLoadedModel();
    if (!exchange.gone) exchange.res.end();
  }
}

/** Starts a fake Ollama on 127.0.0.1 (a free port unless `port` is given). */
export async function startFakeOllama(opts: StartFakeOllamaOptions = {}): Promise<FakeOllama> {
  const server = new FakeOllamaServer(opts);
  await server.listen(opts.port ?? 0);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Scripted conversations (agent runs)
// ---------------------------------------------------------------------------------------------

/** One answer of a scripted conversation, or a function choosing it from the request (to react to what the agent sent). */
export type ConversationTurn = GenerateScript | ((req: RecordedRequest) => GenerateScript);

/** The chat messages of a recorded request (`[]` for anything else). */
export function chatMessages(req: RecordedRequest): Array<{ role: string; content: string; tool_calls?: unknown[]; tool_name?: string }> {
  return Array.isArray(req.body?.messages) ? req.body.messages : [];
}

/**
 * A script for a multi-turn chat (an agent): the n-th turn answers the request whose history holds
 * n-1 assistant messages, so the same conversation is answered the same way after the agent is
 * paused, restarted or recovered. A turn that only calls tools streams no text (as the real server
 * does when the model writes nothing but calls). Past the last turn the fake fails loudly (500).
 */
export function conversationScript(turns: ConversationTurn[]): (req: RecordedRequest) => GenerateScript {
  return (req) => {
    const index = chatMessages(req).filter((m) => m.role === 'assistant').length;
    const turn = turns[index];
    if (turn === undefined) return { errorBeforeHeaders: { status: 500, error: `fake-ollama: the scripted conversation has ${turns.length} turns; this is turn ${index + 1}` } };
    const script = typeof turn === 'function' ? turn(req) : turn;
    return script.toolCalls?.length && script.tokens === undefined && script.response === undefined ? { ...script, tokens: [] } : script;
  };
}
