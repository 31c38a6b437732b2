import { useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { ConsoleSendDirectiveDocument, type ConsoleRunQuery } from '../../../src/client/generated/graphql';
import { agentStepNames, buildAgentView, type AgentItem, type AgentLimits, type AgentView } from '../agent';
import { api, ApiError } from '../api';
import { formatDuration, plural } from '../format';
import type { TimelineEvent } from '../timeline';
import { ErrorBox } from './common';

type FullRun = NonNullable<ConsoleRunQuery['run']>;

const ENDED = new Set(['COMPLETED', 'FAILED', 'STOPPED']);

function pretty(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** One limit: how much is used of how much, as words and a bar. */
function Usage({ label, used, max, format = (n: number) => n.toLocaleString() }: { label: string; used: number; max: number; format?: (n: number) => string }) {
  const share = max > 0 ? Math.min(1, used / max) : 0;
  return (
    <div className={`limit ${share >= 0.9 ? 'limit-near' : ''}`} data-limit={label}>
      <span className="limit-label">{label}</span>
      <progress value={Math.min(used, max)} max={max} aria-label={`${label}: ${format(used)} of ${format(max)}`} />
      <span className="limit-value">
        {format(used)} <span className="muted">of {format(max)}</span>
      </span>
    </div>
  );
}

function Limits({ view, limits, elapsedMs }: { view: AgentView; limits: AgentLimits; elapsedMs: number }) {
  return (
    <div className="limits" role="group" aria-label="Limits of the agent, and how much of each is used">
      <Usage label="Model calls" used={view.turns} max={limits.maxIterations} />
      <Usage label="Tokens" used={view.tokens} max={limits.tokenBudget} />
      <Usage label="Time" used={Math.round(elapsedMs / 1000)} max={limits.timeoutSeconds} format={(s) => formatDuration(s * 1000)} />
      <Usage label="Context" used={view.contextTokens} max={limits.numCtx} />
    </div>
  );
}

function CallCard({ item }: { item: Extract<AgentItem, { kind: 'call' }> }) {
  const result = item.result;
  const state = result === null ? 'running' : result.ok ? 'ok' : 'error';
  const output = item.output.map((o) => o.text).join('');
  return (
    <li className={`agent-call agent-call-${state}`} data-tool={item.name ?? 'unreadable'} data-call-state={state}>
      <div className="agent-call-head">
        <span className="agent-tool">{item.name ?? 'unreadable call'}</span>
        {item.textForm ? <span className="tag" title="The model wrote this call as text; it was read from its message">read from text</span> : null}
        <span className="muted">
          {result === null ? 'running…' : result.ok ? 'ok' : result.interrupted ? 'interrupted' : 'error'}
          {result?.exitCode !== undefined && result.exitCode !== null ? ` · exit code ${result.exitCode}` : ''}
          {result?.durationMs ? ` · ${formatDuration(result.durationMs)}` : ''}
          {result ? ` · ${plural(result.sizeChars, 'character')}${result.truncated ? ' (cut for the model)' : ''}` : ''}
        </span>
      </div>
      {item.arguments !== null ? (
        <pre className="agent-args" aria-label={`Arguments of ${item.name}`}>
          {pretty(item.arguments)}
        </pre>
      ) : null}
      {item.problems ? <p className="agent-problem">{item.problems.join('; ')}</p> : null}
      {output ? (
        <pre className="shell-text agent-output" data-testid="agent-command-output" aria-label="Command output">
          {item.output.map((o) => (
            <span key={o.seq} className={o.stream === 'stderr' ? 'stderr' : undefined}>
              {o.text}
            </span>
          ))}
        </pre>
      ) : null}
      {result ? (
        <details className="agent-result" open={!result.ok || result.content.length < 600}>
          <summary>Result sent to the model</summary>
          <pre data-testid="agent-result">{result.content}</pre>
        </details>
      ) : null}
    </li>
  );
}

function Item({ item, streaming }: { item: AgentItem; streaming: boolean }) {
  switch (item.kind) {
    case 'turn':
      return (
        <li className="agent-turn" data-turn={item.turn}>
          <div className="agent-turn-head">
            <strong>Turn {item.turn}</strong>
            <span className="muted">
              {item.usage
                ? `${item.usage.promptTokens.toLocaleString()} prompt + ${item.usage.outputTokens.toLocaleString()} output tokens · ${formatDuration(item.usage.totalMs)}${item.usage.textForm ? ' · calls read from the text' : ''}`
                : streaming
                  ? 'the model is answering…'
                  : ''}
            </span>
          </div>
          {item.thinking ? (
            <details className="agent-thinking">
              <summary>Reasoning ({plural(item.thinking.length, 'character')})</summary>
              <pre data-testid="agent-thinking">{item.thinking}</pre>
            </details>
          ) : null}
          {item.text ? (
            <pre className="llm-text agent-text" data-testid="agent-text">
              {item.text}
            </pre>
          ) : null}
        </li>
      );
    case 'call':
      return <CallCard item={item} />;
    case 'directive':
      return (
        <li className="agent-directive" data-directive={item.deliveredBeforeTurn === null ? 'waiting' : 'delivered'}>
          <span className="agent-directive-who">You</span>
          <p>{item.text}</p>
          <span className="muted">{item.deliveredBeforeTurn === null ? 'waiting for the agent’s next model call' : `delivered before turn ${item.deliveredBeforeTurn}`}</span>
        </li>
      );
    case 'limit':
      return (
        <li className="agent-limit alert alert-error" role="note">
          {item.message}
        </li>
      );
    case 'note':
      return <li className={`agent-note agent-note-${item.tone}`}>{item.message}</li>;
  }
}

function DirectiveBox({ run }: { run: FullRun }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const ended = ENDED.has(run.status);
  const send = async (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return setError(new ApiError('Write what the agent should do next.'));
    setBusy(true);
    setError(null);
    try {
      await api.request(ConsoleSendDirectiveDocument, { runId: run.id, text });
      setText('');
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(String(caught)));
    } finally {
      setBusy(false);
    }
  };
  if (ended) return <p className="muted">The run has ended: it takes no more directives.</p>;
  return (
    <form className="directive-box" onSubmit={send} aria-label="Send a directive">
      <label className="label" htmlFor="directive-text">
        Directive to the agent
      </label>
      <textarea id="directive-text" rows={2} value={text} onChange={(e) => setText(e.target.value)} placeholder="Also add a test for the empty name." />
      <span className="hint">The agent reads it before its next model call; it takes precedence over the goal.</span>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send directive'}
        </button>
      </div>
      {error ? <ErrorBox error={error} title="The directive was not sent" /> : null}
    </form>
  );
}

/** An agent run's conversation, live, with its limits and a box to steer it. */
export function AgentPanel({ run, events, now }: { run: FullRun; events: TimelineEvent[]; now: number }) {
  const names = useMemo(() => agentStepNames(run.steps), [run.steps]);
  const view = useMemo(() => buildAgentView(events, names), [events, names]);
  const scroller = useRef<HTMLOListElement>(null);
  const follow = useRef(true);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && follow.current) element.scrollTop = element.scrollHeight;
  }, [view]);
  const step = run.steps.find((s) => names.has(s.name) && s.startedAt);
  const elapsedMs = step?.startedAt ? (step.finishedAt ? Date.parse(step.finishedAt) : step.status === 'RUNNING' ? now : Date.parse(step.startedAt)) - Date.parse(step.startedAt) : 0;
  const streaming = run.status === 'RUNNING';
  const last = view.items.at(-1);

  return (
    <section className="card agent-panel" aria-labelledby="agent-title">
      <div className="section-head">
        <h2 id="agent-title">Agent</h2>
        <span className="muted">
          {view.model ? `${view.model} · ` : ''}
          {plural(view.turns, 'turn')}
        </span>
      </div>
      {view.limits ? <Limits view={view} limits={view.limits} elapsedMs={Math.max(0, elapsedMs)} /> : <p className="muted">The agent has not started yet.</p>}
      <ol
        className="agent-conversation"
        ref={scroller}
        aria-label="Conversation"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 32;
        }}
      >
        {view.items.map((item) => (
          <Item key={item.key} item={item} streaming={streaming && item === last} />
        ))}
      </ol>
      <DirectiveBox run={run} />
    </section>
  );
}
