import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ZLogin, ZSessionState, type TSessionState } from '@cmbn/api';
import { ApiError, getJson, sendJson, setUnauthorizedHandler } from './ui/api.tsx';
import { ModelPage, ModelsPage } from './ui/models.tsx';
import { href, useRoute } from './ui/router.tsx';
import { RunPage } from './ui/run.tsx';
import { RunsPage } from './ui/runs.tsx';
import './ui/style.css';

function Login(props: { onLogin: (s: TSessionState) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await sendJson('POST', '/v1/session', ZLogin, { token });
      props.onLogin(await getJson('/v1/session', ZSessionState));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <form class="login" onSubmit={submit} data-testid="login">
      <h1>cmbn console</h1>
      <p>This coordinator requires an API token (CMBN_API_TOKENS or CMBN_API_TOKEN). It is exchanged once for an HttpOnly session cookie.</p>
      <input type="password" name="token" autocomplete="off" placeholder="API token" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      <button type="submit">Log in</button>
      {error && <p class="error" data-testid="login-error">{error}</p>}
    </form>
  );
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState<TSessionState | null | 'login'>(null);
  useEffect(() => {
    setUnauthorizedHandler(() => setSession('login'));
    getJson('/v1/session', ZSessionState).then(setSession, () => setSession('login'));
  }, []);
  if (session === null) return <p class="muted">Loading…</p>;
  if (session === 'login') return <Login onLogin={setSession} />;
  const logout = async () => {
    await sendJson('DELETE', '/v1/session', null);
    setSession(session.authRequired ? 'login' : session);
  };
  const [page, arg] = route;
  return (
    <>
      <header>
        <a class="brand" href={href('runs')}>cmbn</a>
        <nav>
          <a href={href('runs')} class={page === 'runs' ? 'active' : ''}>Runs</a>
          <a href={href('models')} class={page === 'models' ? 'active' : ''}>Models</a>
        </nav>
        <span class="who" data-testid="principal">
          {session.principal}
          {session.via === 'session' && (
            <button class="link" onClick={logout}>
              log out
            </button>
          )}
        </span>
      </header>
      <main>
        {page === 'runs' && !arg && <RunsPage />}
        {page === 'runs' && arg && <RunPage id={arg} />}
        {page === 'models' && !arg && <ModelsPage />}
        {page === 'models' && arg && <ModelPage name={arg} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
