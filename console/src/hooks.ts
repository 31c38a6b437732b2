import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { api, ApiError, type ApiState } from './api';

export function useApiState(): ApiState {
  return useSyncExternalStore(api.onChange, api.getState);
}

export interface QueryResult<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Loads again (keeps showing the current data meanwhile). */
  refetch: () => Promise<void>;
  /** Replaces the data locally (after a mutation or a live update). */
  setData: (update: (current: T | undefined) => T | undefined) => void;
}

/**
 * Runs a query when the variables change, and again when the console may have missed something
 * (a token was entered, a lost live connection came back). `skip` waits.
 */
export function useQuery<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables, { skip = false } = {}): QueryResult<TResult> {
  const { epoch } = useApiState();
  const key = JSON.stringify(variables);
  const [data, setDataState] = useState<TResult | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(!skip);
  const latest = useRef(0);
  const variablesRef = useRef(variables);
  variablesRef.current = variables;

  const load = useCallback(async () => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const result = await api.request(document, variablesRef.current);
      if (ticket !== latest.current) return;
      setDataState(result);
      setError(undefined);
    } catch (caught) {
      if (ticket !== latest.current) return;
      setError(caught instanceof ApiError ? caught : new ApiError(String(caught)));
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  }, [document]);

  // A new key is a different question: forget the previous answer.
  const previousKey = useRef(key);
  useEffect(() => {
    if (previousKey.current !== key) {
      previousKey.current = key;
      setDataState(undefined);
    }
    if (!skip) void load();
  }, [key, epoch, skip, load]);

  const setData = useCallback((update: (current: TResult | undefined) => TResult | undefined) => setDataState(update), []);
  return { data, error, loading, refetch: load, setData };
}

/** The current time, refreshed every `intervalMs` while `active`. */
export function useNow(intervalMs = 1000, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, active]);
  return now;
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · agent-runner` : 'agent-runner';
  }, [title]);
}

/**
 * Calls `refetch` when the page's tab becomes visible again: for what has no live stream (workflows
 * registered from GraphiQL in another tab show up on coming back).
 */
export function useRefetchOnReturn(refetch: () => Promise<void>): void {
  const latest = useRef(refetch);
  latest.current = refetch;
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible') void latest.current();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, []);
}
