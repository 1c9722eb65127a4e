// The REST API of the server that serves this page, with the key kept in this tab's
// session storage only (never in local storage, never in a cookie).

const KEY = 'assistd-api-key';
const listeners = new Set();

export const base = `${location.origin}/v1`;

export function apiKey() {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** Called with every 401, so the page can ask for a key. */
export function onUnauthorized(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = e.code ?? null;
    this.param = e.param ?? null;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

async function check(res) {
  if (res.ok) return res;
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (res.status === 401) listeners.forEach((fn) => fn());
  throw new ApiError(res.status, body);
}

/** A JSON request; `body` is sent as JSON when given. */
export async function api(path, { method = 'GET', body, query } = {}) {
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
    else if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const init = { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await check(await fetch(url, init));
  return res.status === 204 ? null : res.json();
}

/** Every item of a list endpoint, following `has_more`/`after`. */
export async function listAll(path, query = {}) {
  const items = [];
  let after;
  for (;;) {
    const page = await api(path, { query: { limit: 100, ...query, after } });
    items.push(...page.data);
    if (!page.has_more || page.data.length === 0) return items;
    after = page.last_id ?? page.data[page.data.length - 1].id;
  }
}

/** Uploads a browser File as an OpenAI file. */
export async function uploadFile(file, purpose = 'assistants') {
  const form = new FormData();
  form.append('purpose', purpose);
  form.append('file', file, file.name);
  const res = await check(await fetch(`${base}/files`, { method: 'POST', headers: headers(), body: form }));
  return res.json();
}

/** Types shown as they are; anything else (HTML, SVG, scripts…) is shown as plain text,
 * since a blob: URL has this page's origin and so could read the key. */
const SHOWN = /^(text\/plain|application\/pdf|application\/json|text\/csv|text\/markdown|image\/(png|jpeg|gif|webp))\b/;

function safeType(type) {
  return type && SHOWN.test(type) ? type.split(';')[0] : 'text/plain';
}

/** A file's bytes as an object URL (the content endpoint needs the key, so a plain link cannot). */
export async function fileURL(fileId) {
  const res = await check(await fetch(`${base}/files/${fileId}/content`, { headers: headers() }));
  const type = safeType(res.headers.get('content-type'));
  return URL.createObjectURL(new Blob([await res.arrayBuffer()], { type }));
}

/** Opens a file's content in a new tab. */
export async function openFile(fileId) {
  const tab = window.open('', '_blank');
  const url = await fileURL(fileId);
  if (tab) tab.location = url;
  else location.assign(url);
}

/**
 * POSTs `body` and yields the server-sent events of the reply as `{event, data}`,
 * `data` parsed as JSON where it is JSON (`[DONE]` stays a string).
 */
export async function* stream(path, body, signal) {
  const res = await check(
    await fetch(base + path, {
      method: 'POST',
      headers: headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    }),
  );
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // [DONE]
      }
      yield { event, data: parsed };
    }
  }
}
