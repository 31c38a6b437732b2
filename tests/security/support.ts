/**
 * What the attack tests share: raw HTTP requests with any headers (fetch will not send a forged
 * Host), raw WebSocket upgrades and graphql-ws conversations without the client library, so a test
 * can send exactly what an attacker would.
 */
import { request } from 'node:http';
import { expect } from 'vitest';
import WebSocket from 'ws';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** Sends one HTTP request exactly as given (Host included) and reads the whole answer. */
export function rawRequest(baseUrl: string, path: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A GraphQL-over-HTTP JSON body. */
export function graphqlBody(query: string, variables: Record<string, unknown> = {}): string {
  return JSON.stringify({ query, variables });
}

/** JSON POST headers with the right length (what a well-behaved client sends), plus `extra`. */
export function jsonHeaders(body: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', 'content-length': String(Buffer.byteLength(body)), ...extra };
}

/** The first GraphQL error of a response, checked to have `code`. */
export function expectErrorCode(response: RawResponse, code: string): { message: string } {
  const body = response.json as { errors?: Array<{ message: string; extensions?: { code?: string } }>; code?: string; error?: string };
  if (body?.errors) {
    expect(body.errors[0]?.extensions?.code, response.text).toBe(code);
    return body.errors[0]!;
  }
  expect(body?.code, response.text).toBe(code);
  return { message: body.error ?? '' };
}

/** The outcome of a WebSocket upgrade: open (with the socket), or refused with an HTTP status and body. */
export type UpgradeOutcome = { opened: true; socket: WebSocket } | { opened: false; status: number; body: string };

/** Opens a graphql-ws socket with the given upgrade headers (Origin, Host …). */
export function upgrade(baseUrl: string, headers: Record<string, string> = {}, path = '/graphql'): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, 'graphql-transport-ws', { headers });
    socket.once('open', () => resolve({ opened: true, socket }));
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    socket.once('error', (error) => reject(error));
  });
}

/** A graphql-ws conversation over a raw socket: every message received is kept, in order. */
export class RawGraphQLSocket {
  readonly messages: Array<{ id?: string; type: string; payload?: unknown }> = [];
  closeCode: number | null = null;
  closeReason = '';
  private readonly closed: Promise<void>;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.messages.push(JSON.parse(String(data)) as { type: string }));
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        resolve();
      }),
    );
  }

  /** Opens a socket and completes graphql-ws's handshake. */
  static async connect(baseUrl: string, connectionParams: Record<string, unknown> = {}): Promise<RawGraphQLSocket> {
    const outcome = await upgrade(baseUrl);
    if (!outcome.opened) throw new Error(`upgrade refused: ${outcome.status} ${outcome.body}`);
    const conversation = new RawGraphQLSocket(outcome.socket);
    conversation.send({ type: 'connection_init', payload: connectionParams });
    await conversation.waitFor((m) => m.type === 'connection_ack', 'connection_ack');
    return conversation;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}): void {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  /** Waits for a message matching `match` (already received or to come). */
  async waitFor(match: (message: { id?: string; type: string; payload?: unknown }) => boolean, what: string, timeoutMs = 10_000): Promise<{ id?: string; type: string; payload?: unknown }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The `error` message of operation `id`, checked to carry `code`; returns its message. */
  async expectError(id: string, code: string): Promise<string> {
    const message = await this.waitFor((m) => m.id === id && m.type === 'error', `an error for ${id}`);
    const errors = message.payload as Array<{ message: string; extensions?: { code?: string } }>;
    expect(errors[0]?.extensions?.code, JSON.stringify(errors)).toBe(code);
    return errors[0]!.message;
  }

  /** Resolves once the server closed the socket (or after the timeout, with the code still null). */
  async whenClosed(timeoutMs = 10_000): Promise<void> {
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  close(): void {
    this.socket.terminate();
  }
}
