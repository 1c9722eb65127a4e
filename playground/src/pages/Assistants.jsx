import { useState } from 'preact/hooks';

import { api, listAll } from '../api.js';
import { Problem, Table, attempt, useLoad } from '../ui.jsx';

const EXAMPLE_FUNCTIONS = `[
  {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
      "type": "object",
      "properties": { "city": { "type": "string" } },
      "required": ["city"]
    }
  }
]`;

function blank() {
  return { id: null, name: '', model: '', instructions: '', code: false, search: false, stores: [], functions: '' };
}

function toForm(a) {
  const fns = a.tools.filter((t) => t.type === 'function').map((t) => t.function);
  return {
    id: a.id,
    name: a.name ?? '',
    model: a.model,
    instructions: a.instructions ?? '',
    code: a.tools.some((t) => t.type === 'code_interpreter'),
    search: a.tools.some((t) => t.type === 'file_search'),
    stores: a.tool_resources?.file_search?.vector_store_ids ?? [],
    functions: fns.length ? JSON.stringify(fns, null, 2) : '',
  };
}

/** The request body for `form`, or throws with what is wrong. */
function toBody(form) {
  let functions = [];
  if (form.functions.trim()) {
    try {
      functions = JSON.parse(form.functions);
    } catch (e) {
      throw new Error(`Function definitions are not valid JSON: ${e.message}`);
    }
    if (!Array.isArray(functions)) throw new Error('Function definitions must be a JSON array of functions.');
  }
  const tools = [];
  if (form.code) tools.push({ type: 'code_interpreter' });
  if (form.search) tools.push({ type: 'file_search' });
  tools.push(...functions.map((f) => ({ type: 'function', function: f })));
  return {
    name: form.name || null,
    model: form.model,
    instructions: form.instructions || null,
    tools,
    tool_resources: { file_search: { vector_store_ids: form.search ? form.stores : [] } },
  };
}

function AssistantForm({ initial, stores, models, onSaved, onCancel }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) =>
    setForm({ ...form, [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });
  const toggleStore = (id) =>
    setForm({ ...form, stores: form.stores.includes(id) ? form.stores.filter((s) => s !== id) : [...form.stores, id] });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    const saved = await attempt(setError, () =>
      api(form.id ? `/assistants/${form.id}` : '/assistants', { method: 'POST', body: toBody(form) }),
    );
    setBusy(false);
    if (saved) onSaved(saved);
  };
  return (
    <form class="card" onSubmit={submit} aria-label={form.id ? `Edit ${form.id}` : 'New assistant'}>
      <h3>{form.id ? `Edit ${form.name || form.id}` : 'New assistant'}</h3>
      <label>
        Name <input value={form.name} onInput={set('name')} />
      </label>
      <label>
        Model <input value={form.model} onInput={set('model')} list="model-names" required />
      </label>
      <datalist id="model-names">
        {(models ?? []).map((m) => (
          <option key={m.id} value={m.id} />
        ))}
      </datalist>
      <label>
        Instructions <textarea rows="3" value={form.instructions} onInput={set('instructions')} />
      </label>
      <fieldset>
        <legend>Tools</legend>
        <label class="inline">
          <input type="checkbox" checked={form.code} onChange={set('code')} /> code_interpreter
        </label>
        <label class="inline">
          <input type="checkbox" checked={form.search} onChange={set('search')} /> file_search
        </label>
        {form.search && (
          <fieldset>
            <legend>Vector stores to search</legend>
            {(stores ?? []).length === 0 && <p>No vector stores yet: make one under Files &amp; vector stores.</p>}
            {(stores ?? []).map((s) => (
              <label class="inline" key={s.id}>
                <input type="checkbox" checked={form.stores.includes(s.id)} onChange={() => toggleStore(s.id)} />{' '}
                {s.name || s.id}
              </label>
            ))}
          </fieldset>
        )}
        <label>
          Function definitions (a JSON array)
          <textarea
            rows="6"
            class="mono"
            value={form.functions}
            placeholder={EXAMPLE_FUNCTIONS}
            onInput={set('functions')}
          />
        </label>
      </fieldset>
      <Problem error={error} />
      <div class="row">
        <button type="submit" disabled={busy}>
          {form.id ? 'Save' : 'Create assistant'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Assistants() {
  const [assistants, loadError, reload] = useLoad(() => listAll('/assistants', { order: 'desc' }));
  const [stores] = useLoad(() => listAll('/vector_stores'));
  const [models] = useLoad(() =>
    api('/models')
      .then((r) => r.data)
      .catch(() => []),
  );
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const remove = async (a) => {
    if (!confirm(`Delete assistant ${a.name || a.id}?`)) return;
    await attempt(setError, () => api(`/assistants/${a.id}`, { method: 'DELETE' }));
    reload();
  };
  return (
    <section>
      <div class="row">
        <button type="button" onClick={() => setEditing(blank())}>
          New assistant
        </button>
      </div>
      {editing && (
        <AssistantForm
          key={editing.id ?? 'new'}
          initial={editing}
          stores={stores}
          models={models}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
          onCancel={() => setEditing(null)}
        />
      )}
      <Problem error={loadError ?? error} />
      <Table
        label="Assistants"
        columns={['Name', 'Model', 'Tools', 'Id']}
        actions
        rows={assistants}
        empty="No assistants yet."
        row={(a) => (
          <tr key={a.id}>
            <td>{a.name || <em>unnamed</em>}</td>
            <td>{a.model}</td>
            <td>{a.tools.map((t) => (t.type === 'function' ? t.function.name : t.type)).join(', ')}</td>
            <td class="mono">{a.id}</td>
            <td class="actions">
              <button type="button" onClick={() => setEditing(toForm(a))} aria-label={`Edit ${a.name || a.id}`}>
                Edit
              </button>
              <a href={`#/threads?assistant=${a.id}`}>Chat</a>
              <button type="button" onClick={() => remove(a)} aria-label={`Delete ${a.name || a.id}`}>
                Delete
              </button>
            </td>
          </tr>
        )}
      />
    </section>
  );
}
