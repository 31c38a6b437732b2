import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api';
import { useApiState } from '../hooks';

/** Asks for the server's API_TOKEN when it wants one; the token is kept in this browser. */
export function TokenPrompt() {
  const { authNeeded, tokenRefused } = useApiState();
  const [token, setToken] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (authNeeded) input.current?.focus();
  }, [authNeeded]);
  if (!authNeeded) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!token.trim()) return;
    api.setToken(token);
    setToken('');
  };
  return (
    <div className="overlay">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit={submit}>
        <h2 id="token-title">This server needs its API token</h2>
        <p>
          It was started with <code>API_TOKEN</code> set. Enter that token: this browser keeps it (in local storage), so you are asked only once.
        </p>
        {tokenRefused ? (
          <p className="field-error" role="alert">
            The server refused the token this browser had. Check it and enter it again.
          </p>
        ) : null}
        <label className="field">
          <span className="label">API token</span>
          <input ref={input} type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} name="token" required />
        </label>
        <div className="form-actions">
          <button type="submit" className="button button-primary">
            Use this token
          </button>
        </div>
      </form>
    </div>
  );
}
