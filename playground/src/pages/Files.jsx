import { useEffect, useState } from 'preact/hooks';

import { api, listAll, openFile, uploadFile } from '../api.js';
import { NamedOptions, Problem, Table, attempt, bytes, useLoad, when } from '../ui.jsx';

function DropZone({ onFiles, busy }) {
  const [over, setOver] = useState(false);
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer?.files?.length) onFiles([...e.dataTransfer.files]);
  };
  return (
    <div
      class={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <p>{busy ? 'Uploading…' : 'Drop files here, or'}</p>
      <label class="button">
        Choose files
        <input
          type="file"
          multiple
          class="sr-only"
          aria-label="Choose files to upload"
          onChange={(e) => {
            onFiles([...e.currentTarget.files]);
            e.currentTarget.value = '';
          }}
        />
      </label>
    </div>
  );
}

function StoreFiles({ store, files, epoch, onChanged }) {
  const [storeFiles, loadError, reload] = useLoad(() => listAll(`/vector_stores/${store.id}/files`), [store.id, epoch]);
  const [error, setError] = useState(null);
  const [adding, setAdding] = useState('');
  const names = Object.fromEntries((files ?? []).map((f) => [f.id, f.filename]));
  const pending = (storeFiles ?? []).some((f) => f.status === 'in_progress');
  useEffect(() => {
    if (!pending) return undefined;
    const t = setTimeout(() => {
      reload();
      onChanged();
    }, 700);
    return () => clearTimeout(t);
  }, [storeFiles]);
  const add = async (e) => {
    e.preventDefault();
    if (!adding) return;
    await attempt(setError, () =>
      api(`/vector_stores/${store.id}/files`, { method: 'POST', body: { file_id: adding } }),
    );
    setAdding('');
    reload();
    onChanged();
  };
  const remove = async (id) => {
    await attempt(setError, () => api(`/vector_stores/${store.id}/files/${id}`, { method: 'DELETE' }));
    reload();
    onChanged();
  };
  return (
    <div>
      <form class="row" onSubmit={add}>
        <label>
          Add a file{' '}
          <select value={adding} onChange={(e) => setAdding(e.currentTarget.value)}>
            <option value="">choose…</option>
            {(files ?? []).map((f) => (
              <option key={f.id} value={f.id}>
                {f.filename}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!adding}>
          Add to store
        </button>
      </form>
      <Problem error={loadError ?? error} />
      <Table
        label={`Files of ${store.name || store.id}`}
        columns={['File', 'Status', 'Size in store']}
        actions
        rows={storeFiles}
        empty="No files in this store yet."
        row={(f) => (
          <tr key={f.id}>
            <td>{names[f.id] ?? f.id}</td>
            <td>
              <span class={`status ${f.status}`}>{f.status}</span>
              {f.last_error && <small> {f.last_error.message}</small>}
            </td>
            <td>{bytes(f.usage_bytes ?? 0)}</td>
            <td>
              <button
                type="button"
                onClick={() => remove(f.id)}
                aria-label={`Remove ${names[f.id] ?? f.id} from the store`}
              >
                Remove
              </button>
            </td>
          </tr>
        )}
      />
    </div>
  );
}

function Search({ store, files }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState(null);
  const [error, setError] = useState(null);
  const names = Object.fromEntries((files ?? []).map((f) => [f.id, f.filename]));
  const submit = async (e) => {
    e.preventDefault();
    const page = await attempt(setError, () =>
      api(`/vector_stores/${store.id}/search`, { method: 'POST', body: { query, max_num_results: 10 } }),
    );
    if (page) setResults(page.data);
  };
  return (
    <div>
      <form class="row" onSubmit={submit} role="search">
        <label>
          Search this store <input value={query} onInput={(e) => setQuery(e.currentTarget.value)} required />
        </label>
        <button type="submit">Search</button>
      </form>
      <Problem error={error} />
      {results && (
        <ol class="results" aria-label="Search results">
          {results.length === 0 && <li>Nothing found.</li>}
          {results.map((r, i) => (
            <li key={i}>
              <div class="row">
                <strong>{r.filename ?? names[r.file_id] ?? r.file_id}</strong>
                <span class="score">score {r.score.toFixed(3)}</span>
              </div>
              {r.content.map((c, j) => (
                <p class="chunk" key={j}>
                  {c.text}
                </p>
              ))}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function Files() {
  const [files, filesError, reloadFiles] = useLoad(() => listAll('/files', { order: 'desc' }));
  const [stores, storesError, reloadStores] = useLoad(() => listAll('/vector_stores', { order: 'desc' }));
  const [selected, setSelected] = useState(null);
  const [target, setTarget] = useState('');
  const [storeName, setStoreName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  // bumped when uploads went into a store, so its file list reloads
  const [uploads, setUploads] = useState(0);
  const store = (stores ?? []).find((s) => s.id === selected);

  const upload = async (list) => {
    setBusy(true);
    await attempt(setError, async () => {
      for (const f of list) {
        const file = await uploadFile(f);
        if (target) await api(`/vector_stores/${target}/files`, { method: 'POST', body: { file_id: file.id } });
      }
    });
    setBusy(false);
    reloadFiles();
    reloadStores();
    if (target) {
      setSelected(target);
      setUploads((n) => n + 1);
    }
  };
  const createStore = async (e) => {
    e.preventDefault();
    const s = await attempt(setError, () => api('/vector_stores', { method: 'POST', body: { name: storeName } }));
    if (s) {
      setStoreName('');
      setSelected(s.id);
      reloadStores();
    }
  };
  const removeFile = async (f) => {
    if (!confirm(`Delete ${f.filename}?`)) return;
    await attempt(setError, () => api(`/files/${f.id}`, { method: 'DELETE' }));
    reloadFiles();
  };
  const removeStore = async (s) => {
    if (!confirm(`Delete vector store ${s.name || s.id}?`)) return;
    await attempt(setError, () => api(`/vector_stores/${s.id}`, { method: 'DELETE' }));
    if (selected === s.id) setSelected(null);
    reloadStores();
  };

  return (
    <div class="columns">
      <section aria-labelledby="files-heading">
        <h3 id="files-heading">Files</h3>
        <label>
          Add uploads to vector store{' '}
          <select value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
            <option value="">none</option>
            <NamedOptions items={stores} />
          </select>
        </label>
        <DropZone onFiles={upload} busy={busy} />
        <Problem error={filesError ?? error} />
        <Table
          label="Files"
          columns={['Name', 'Size', 'Uploaded']}
          actions
          rows={files}
          empty="No files yet."
          row={(f) => (
            <tr key={f.id}>
              <td>
                <button type="button" class="link" onClick={() => openFile(f.id)}>
                  {f.filename}
                </button>
                <div class="mono small">{f.id}</div>
              </td>
              <td>{bytes(f.bytes)}</td>
              <td>{when(f.created_at)}</td>
              <td>
                <button type="button" onClick={() => removeFile(f)} aria-label={`Delete ${f.filename}`}>
                  Delete
                </button>
              </td>
            </tr>
          )}
        />
      </section>
      <section aria-labelledby="stores-heading">
        <h3 id="stores-heading">Vector stores</h3>
        <form class="row" onSubmit={createStore}>
          <label>
            New store name <input value={storeName} onInput={(e) => setStoreName(e.currentTarget.value)} />
          </label>
          <button type="submit">Create store</button>
        </form>
        <Problem error={storesError} />
        <ul class="stores" aria-label="Vector stores">
          {(stores ?? []).map((s) => (
            <li key={s.id} class={s.id === selected ? 'selected' : ''}>
              <button type="button" class="link" onClick={() => setSelected(s.id)} aria-pressed={s.id === selected}>
                {s.name || s.id}
              </button>{' '}
              <span class={`status ${s.status}`}>{s.status}</span>{' '}
              <small>
                {s.file_counts.completed}/{s.file_counts.total} files ready
                {s.file_counts.in_progress ? `, ${s.file_counts.in_progress} indexing` : ''}
                {s.file_counts.failed ? `, ${s.file_counts.failed} failed` : ''}
              </small>{' '}
              <button type="button" onClick={() => removeStore(s)} aria-label={`Delete store ${s.name || s.id}`}>
                Delete
              </button>
            </li>
          ))}
          {stores?.length === 0 && <li>No vector stores yet.</li>}
        </ul>
        {store && (
          <div class="card" aria-label={`Store ${store.name || store.id}`}>
            <h4>
              {store.name || store.id} <span class="mono small">{store.id}</span>
            </h4>
            <StoreFiles store={store} files={files} epoch={uploads} onChanged={reloadStores} />
            <Search store={store} files={files} />
          </div>
        )}
      </section>
    </div>
  );
}
