import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { apiKey, onUnauthorized, setApiKey } from './api.js';
import { Assistants } from './pages/Assistants.jsx';
import { Files } from './pages/Files.jsx';
import { Models } from './pages/Models.jsx';
import { Threads } from './pages/Threads.jsx';
import './style.css';

const PAGES = [
  { id: 'assistants', title: 'Assistants', Page: Assistants },
  { id: 'files', title: 'Files & vector stores', Page: Files },
  { id: 'threads', title: 'Threads', Page: Threads },
  { id: 'models', title: 'Models', Page: Models },
];

function currentPage() {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0];
  return PAGES.find((p) => p.id === id) ?? PAGES[0];
}

function KeyForm({ onDone, asked }) {
  const [key, setKey] = useState(apiKey());
  const submit = (e) => {
    e.preventDefault();
    setApiKey(key.trim());
    onDone();
  };
  return (
    <form class="keyform" onSubmit={submit} aria-label="API key">
      {asked && <p role="alert">The server asked for an API key (401). Enter one of its keys.</p>}
      <label>
        API key <input type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} autocomplete="off" />
      </label>
      <button type="submit">Use key</button>
      <small>Kept in this tab's session storage only.</small>
    </form>
  );
}

function App() {
  const [page, setPage] = useState(currentPage());
  const [askKey, setAskKey] = useState(false);
  const [keyEpoch, setKeyEpoch] = useState(0);
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    window.addEventListener('hashchange', onHash);
    const off = onUnauthorized(() => setAskKey(true));
    return () => {
      window.removeEventListener('hashchange', onHash);
      off();
    };
  }, []);
  const { Page } = page;
  return (
    <>
      <header>
        <h1>assistd playground</h1>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} aria-current={p.id === page.id ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={() => setAskKey(!askKey)} aria-expanded={askKey}>
          {apiKey() ? 'API key: set' : 'API key'}
        </button>
      </header>
      {askKey && (
        <KeyForm
          asked={askKey === true && !apiKey()}
          onDone={() => {
            setAskKey(false);
            setKeyEpoch(keyEpoch + 1);
          }}
        />
      )}
      <main id="main">
        <h2>{page.title}</h2>
        <Page key={`${page.id}-${keyEpoch}`} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
