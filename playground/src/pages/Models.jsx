import { api } from '../api.js';
import { Problem, Table, useLoad, when } from '../ui.jsx';

export function Models() {
  const [models, error] = useLoad(() => api('/models').then((r) => r.data));
  return (
    <section>
      <p>
        The model names this server answers: its model map (<code>ASSISTD_MODEL_MAP</code>) and what its chat backend
        lists. A name that is not here still goes to the default backend unchanged.
      </p>
      <Problem error={error} />
      <Table
        label="Models"
        columns={['Model', 'Served by', 'Created']}
        rows={models}
        empty="No models: set ASSISTD_LLM_BASE_URL or install the embedded model."
        row={(m) => (
          <tr key={m.id}>
            <td class="mono">{m.id}</td>
            <td>{m.owned_by}</td>
            <td>{when(m.created)}</td>
          </tr>
        )}
      />
    </section>
  );
}
