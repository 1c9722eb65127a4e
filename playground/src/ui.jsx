// Small pieces the pages share.
import { useCallback, useEffect, useState } from 'preact/hooks';

/** An error (or nothing), shown where screen readers announce it. */
export function Problem({ error }) {
  if (!error) return null;
  return (
    <p class="problem" role="alert">
      {error.status ? `${error.status}: ` : ''}
      {error.message}
    </p>
  );
}

/** `[value, error, reload]` of an async loader, run on mount and on `reload()`. */
export function useLoad(load, deps = []) {
  const [value, setValue] = useState(null);
  const [error, setError] = useState(null);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => {
    let live = true;
    load()
      .then((v) => live && (setValue(v), setError(null)))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [...deps, epoch]);
  const reload = useCallback(() => setEpoch((n) => n + 1), []);
  return [value, error, reload];
}

/** Runs `fn`, reporting its error through `setError`; returns its value or undefined. */
export async function attempt(setError, fn) {
  try {
    setError(null);
    return await fn();
  } catch (e) {
    setError(e);
    return undefined;
  }
}

export function when(ts) {
  return ts ? new Date(ts * 1000).toLocaleString() : '';
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * A labelled table of `rows`, one `<tr>` each from `row`, with a header of `columns`
 * (and a screen-reader-only "Actions" column when `actions`), or one row saying `empty`
 * once `rows` is loaded and empty.
 */
export function Table({ label, columns, actions = false, rows, row, empty }) {
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c}>{c}</th>
          ))}
          {actions && (
            <th>
              <span class="sr-only">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {(rows ?? []).map(row)}
        {rows?.length === 0 && (
          <tr>
            <td colspan={columns.length + (actions ? 1 : 0)}>{empty}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** `<option>`s of objects with an id and maybe a name. */
export function NamedOptions({ items }) {
  return (items ?? []).map((x) => (
    <option key={x.id} value={x.id}>
      {x.name || x.id}
    </option>
  ));
}
