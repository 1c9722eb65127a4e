import { useEffect, useRef, useState } from 'preact/hooks';

import { api, fileURL, listAll, openFile, stream } from '../api.js';
import { NamedOptions, Problem, attempt, useLoad } from '../ui.jsx';

const THREADS = 'assistd-playground-threads';
const ACTIVE = new Set(['queued', 'in_progress', 'requires_action', 'cancelling']);
const SEARCH_RESULTS = 'step_details.tool_calls[*].file_search.results[*].content';

function savedThreads() {
  try {
    return JSON.parse(sessionStorage.getItem(THREADS) ?? '[]');
  } catch {
    return [];
  }
}

function saveThread(t) {
  const rest = savedThreads().filter((x) => x.id !== t.id);
  sessionStorage.setItem(THREADS, JSON.stringify([t, ...rest].slice(0, 50)));
}

function hashParam(name) {
  const q = location.hash.split('?')[1] ?? '';
  return new URLSearchParams(q).get(name) ?? '';
}

/** Replaces the element with the same id, or appends. */
function upsert(list, item) {
  const i = list.findIndex((x) => x.id === item.id);
  if (i < 0) return [...list, item];
  const next = [...list];
  next[i] = item;
  return next;
}

/** A message with a `thread.message.delta` applied. */
function applyMessageDelta(message, delta) {
  const content = [...(message.content ?? [])];
  for (const part of delta.content ?? []) {
    const old = content[part.index];
    if (part.type === 'text') {
      const text = old?.text ?? { value: '', annotations: [] };
      content[part.index] = {
        type: 'text',
        text: {
          value: text.value + (part.text?.value ?? ''),
          annotations: [...text.annotations, ...(part.text?.annotations ?? [])],
        },
      };
    } else {
      content[part.index] = { ...old, ...part };
    }
  }
  return { ...message, content };
}

/** A run step with a `thread.run.step.delta` applied. */
function applyStepDelta(step, delta) {
  const details = delta.step_details;
  if (details?.type !== 'tool_calls') return step;
  const calls = [...(step.step_details?.tool_calls ?? [])];
  for (const d of details.tool_calls ?? []) {
    const old = calls[d.index] ?? { id: d.id, type: d.type };
    const call = { ...old, id: old.id ?? d.id, type: old.type ?? d.type };
    if (d.type === 'function') {
      const f = old.function ?? { name: '', arguments: '', output: null };
      call.function = {
        name: f.name || d.function?.name || '',
        arguments: f.arguments + (d.function?.arguments ?? ''),
        output: d.function?.output ?? f.output,
      };
    } else if (d.type === 'code_interpreter') {
      const c = old.code_interpreter ?? { input: '', outputs: [] };
      call.code_interpreter = {
        input: c.input + (d.code_interpreter?.input ?? ''),
        outputs: [...c.outputs, ...(d.code_interpreter?.outputs ?? [])],
      };
    } else {
      call[d.type] = { ...old[d.type], ...d[d.type] };
    }
    calls[d.index] = call;
  }
  return { ...step, step_details: { type: 'tool_calls', tool_calls: calls } };
}

function FileImage({ fileId }) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    let url = null;
    fileURL(fileId)
      .then((u) => setSrc((url = u)))
      .catch(() => setSrc(''));
    return () => url && URL.revokeObjectURL(url);
  }, [fileId]);
  if (src === '') return <em>image {fileId} could not be loaded</em>;
  return src ? <img src={src} alt={`Image file ${fileId}`} /> : <em>loading image…</em>;
}

/** Text with its annotations as numbered links that open the cited file. */
function AnnotatedText({ text }) {
  const notes = [...(text.annotations ?? [])].filter((a) => a.text);
  if (notes.length === 0) return <p class="text">{text.value}</p>;
  const parts = [];
  let rest = text.value;
  notes.forEach((a, n) => {
    const at = rest.indexOf(a.text);
    if (at < 0) return;
    parts.push(rest.slice(0, at));
    const fileId = a.file_citation?.file_id ?? a.file_path?.file_id;
    const label = a.type === 'file_path' ? `Open the file ${fileId}` : `Open cited file ${fileId}`;
    parts.push(
      <button
        type="button"
        class="citation"
        key={n}
        onClick={() => openFile(fileId)}
        title={`Open ${fileId}`}
        aria-label={label}
      >
        [{n + 1}]
      </button>,
    );
    rest = rest.slice(at + a.text.length);
  });
  parts.push(rest);
  return <p class="text">{parts}</p>;
}

function Message({ message }) {
  return (
    <article class={`message ${message.role}`} aria-label={`${message.role} message`}>
      <header>{message.role}</header>
      {(message.content ?? []).map((c, i) => {
        if (c?.type === 'text') return <AnnotatedText key={i} text={c.text} />;
        if (c?.type === 'image_file') return <FileImage key={i} fileId={c.image_file.file_id} />;
        if (c?.type === 'image_url') return <img key={i} src={c.image_url.url} alt="Attached image" />;
        return null;
      })}
      {(message.attachments ?? []).length > 0 && (
        <small>attachments: {message.attachments.map((a) => a.file_id).join(', ')}</small>
      )}
    </article>
  );
}

function ToolCall({ call }) {
  if (call.type === 'function') {
    return (
      <div class="call">
        <div>
          function <strong>{call.function.name}</strong>
        </div>
        <pre class="mono" aria-label="Arguments">
          {call.function.arguments}
        </pre>
        {call.function.output != null && (
          <pre class="mono" aria-label="Output">
            → {call.function.output}
          </pre>
        )}
      </div>
    );
  }
  if (call.type === 'code_interpreter') {
    return (
      <div class="call">
        <div>code_interpreter</div>
        <pre class="mono" aria-label="Code">
          {call.code_interpreter.input}
        </pre>
        {call.code_interpreter.outputs.map((o, i) =>
          o.type === 'logs' ? (
            <pre class="mono logs" key={i} aria-label="Logs">
              {o.logs}
            </pre>
          ) : (
            <FileImage key={i} fileId={o.image.file_id} />
          ),
        )}
      </div>
    );
  }
  if (call.type === 'file_search') {
    const results = call.file_search?.results;
    return (
      <div class="call">
        <div>file_search</div>
        {results ? (
          <ol class="results" aria-label="File search results">
            {results.map((r, i) => (
              <li key={i}>
                <strong>{r.file_name ?? r.file_id}</strong> <span class="score">score {r.score?.toFixed(3)}</span>
                {(r.content ?? []).map((c, j) => (
                  <p class="chunk" key={j}>
                    {c.text}
                  </p>
                ))}
              </li>
            ))}
          </ol>
        ) : (
          <small>searching…</small>
        )}
      </div>
    );
  }
  return <div class="call">{call.type}</div>;
}

function Steps({ steps }) {
  if (steps.length === 0) return null;
  return (
    <ol class="steps" aria-label="Run steps">
      {steps.map((s) => (
        <li key={s.id}>
          <span class={`status ${s.status}`}>{s.status}</span>{' '}
          {s.step_details?.type === 'message_creation' ? (
            <span>message {s.step_details.message_creation.message_id}</span>
          ) : (
            (s.step_details?.tool_calls ?? []).map((c, i) => <ToolCall key={c.id ?? i} call={c} />)
          )}
        </li>
      ))}
    </ol>
  );
}

function ToolOutputs({ run, onSubmit }) {
  const calls = run.required_action?.submit_tool_outputs?.tool_calls ?? [];
  const [outputs, setOutputs] = useState({});
  const submit = (e) => {
    e.preventDefault();
    onSubmit(calls.map((c) => ({ tool_call_id: c.id, output: outputs[c.id] ?? '' })));
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Tool outputs">
      <h4>The run needs tool outputs</h4>
      {calls.map((c) => (
        <label key={c.id}>
          {c.function.name}({c.function.arguments}) →
          <textarea
            rows="2"
            class="mono"
            value={outputs[c.id] ?? ''}
            onInput={(e) => setOutputs({ ...outputs, [c.id]: e.currentTarget.value })}
          />
        </label>
      ))}
      <button type="submit">Submit tool outputs</button>
    </form>
  );
}

export function Threads() {
  const [assistants, assistantsError] = useLoad(() => listAll('/assistants', { order: 'desc' }));
  const [assistantId, setAssistantId] = useState(hashParam('assistant'));
  const [threads, setThreads] = useState(savedThreads());
  const [threadId, setThreadId] = useState(savedThreads()[0]?.id ?? '');
  const [openId, setOpenId] = useState('');
  const [messages, setMessages] = useState([]);
  const [run, setRun] = useState(null);
  const [steps, setSteps] = useState([]);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [streaming, setStreaming] = useState(false);
  const bottom = useRef(null);
  // A thread made here has nothing to load (and loading would race its first run's stream).
  const fresh = useRef(null);

  useEffect(() => {
    if (!assistantId && assistants?.length) setAssistantId(assistants[0].id);
  }, [assistants]);

  useEffect(() => {
    if (!threadId || fresh.current === threadId) return;
    setMessages([]);
    setRun(null);
    setSteps([]);
    attempt(setError, async () => {
      setMessages(await listAll(`/threads/${threadId}/messages`, { order: 'asc' }));
      const runs = await api(`/threads/${threadId}/runs`, { query: { limit: 1 } });
      const last = runs.data[0];
      if (last) {
        setRun(last);
        const s = await listAll(`/threads/${threadId}/runs/${last.id}/steps`, {
          order: 'asc',
          'include[]': SEARCH_RESULTS,
        });
        setSteps(s);
      }
    });
  }, [threadId]);

  useEffect(() => bottom.current?.scrollIntoView?.({ block: 'end' }), [messages, steps]);

  const withResults = async (step) => {
    const calls = step.step_details?.tool_calls ?? [];
    if (!calls.some((c) => c.type === 'file_search')) return step;
    return api(`/threads/${step.thread_id}/runs/${step.run_id}/steps/${step.id}`, {
      query: { 'include[]': SEARCH_RESULTS },
    }).catch(() => step);
  };

  /** Applies the events of a run's stream to the page. */
  const follow = async (events) => {
    setStreaming(true);
    try {
      for await (const { event, data } of events) {
        if (event === 'thread.run.step.delta') {
          setSteps((list) => list.map((s) => (s.id === data.id ? applyStepDelta(s, data.delta) : s)));
        } else if (event === 'thread.run.step.completed') {
          const full = await withResults(data);
          setSteps((list) => upsert(list, full));
        } else if (event.startsWith('thread.run.step.')) {
          setSteps((list) => upsert(list, data));
        } else if (event.startsWith('thread.run.')) {
          setRun(data);
          if (event === 'thread.run.created') setSteps([]);
        } else if (event === 'thread.message.delta') {
          setMessages((list) => list.map((m) => (m.id === data.id ? applyMessageDelta(m, data.delta) : m)));
        } else if (event.startsWith('thread.message.')) {
          setMessages((list) => upsert(list, data));
        } else if (event === 'error') {
          setError(new Error(data?.message ?? data?.error?.message ?? 'stream error'));
        }
      }
    } finally {
      setStreaming(false);
    }
  };

  const newThread = async () => {
    const t = await attempt(setError, () => api('/threads', { method: 'POST', body: {} }));
    if (!t) return null;
    const entry = { id: t.id, assistant_id: assistantId, created_at: t.created_at };
    saveThread(entry);
    setThreads(savedThreads());
    setMessages([]);
    setRun(null);
    setSteps([]);
    fresh.current = t.id;
    setThreadId(t.id);
    return t.id;
  };

  const send = async (e) => {
    e.preventDefault();
    const content = text.trim();
    if (!content || !assistantId) return;
    await attempt(setError, async () => {
      const id = threadId || (await newThread());
      if (!id) return;
      const m = await api(`/threads/${id}/messages`, { method: 'POST', body: { role: 'user', content } });
      setText('');
      setMessages((list) => upsert(list, m));
      await follow(stream(`/threads/${id}/runs`, { assistant_id: assistantId }));
    });
  };

  const submitOutputs = (toolOutputs) =>
    attempt(setError, () =>
      follow(stream(`/threads/${threadId}/runs/${run.id}/submit_tool_outputs`, { tool_outputs: toolOutputs })),
    );

  const cancel = () =>
    attempt(setError, async () => setRun(await api(`/threads/${threadId}/runs/${run.id}/cancel`, { method: 'POST' })));

  const open = (e) => {
    e.preventDefault();
    const id = openId.trim();
    if (!id) return;
    saveThread({ id, assistant_id: assistantId, created_at: Date.now() / 1000 });
    setThreads(savedThreads());
    fresh.current = null;
    setThreadId(id);
    setOpenId('');
  };

  const active = run && ACTIVE.has(run.status);
  return (
    <div class="chat">
      <aside aria-label="Threads">
        <label>
          Assistant{' '}
          <select value={assistantId} onChange={(e) => setAssistantId(e.currentTarget.value)}>
            <NamedOptions items={assistants} />
          </select>
        </label>
        <Problem error={assistantsError} />
        {assistants?.length === 0 && <p>Create an assistant first.</p>}
        <button type="button" onClick={newThread}>
          New thread
        </button>
        <ul class="threads">
          {threads.map((t) => (
            <li key={t.id}>
              <button
                type="button"
                class="link mono"
                onClick={() => {
                  fresh.current = null;
                  setThreadId(t.id);
                }}
                aria-current={t.id === threadId ? 'true' : undefined}
              >
                {t.id}
              </button>
            </li>
          ))}
        </ul>
        <form onSubmit={open}>
          <label>
            Open a thread by id <input value={openId} onInput={(e) => setOpenId(e.currentTarget.value)} />
          </label>
          <button type="submit">Open</button>
        </form>
      </aside>
      <section class="conversation" aria-label="Conversation">
        {threadId && <p class="mono small">thread {threadId}</p>}
        <div class="messages" aria-live="polite">
          {messages.map((m) => (
            <Message key={m.id} message={m} />
          ))}
        </div>
        {run && (
          <div class="run" aria-label="Run">
            <div class="row">
              <span>
                run <span class="mono">{run.id}</span>: <span class={`status ${run.status}`}>{run.status}</span>
              </span>
              {active && (
                <button type="button" onClick={cancel}>
                  Cancel run
                </button>
              )}
            </div>
            {run.last_error && <p role="alert">{run.last_error.message}</p>}
            {run.incomplete_details && <p>incomplete: {run.incomplete_details.reason}</p>}
            {run.usage && (
              <small>
                tokens: {run.usage.prompt_tokens} in, {run.usage.completion_tokens} out
              </small>
            )}
            <Steps steps={steps} />
            {run.status === 'requires_action' && !streaming && (
              <ToolOutputs key={run.id} run={run} onSubmit={submitOutputs} />
            )}
          </div>
        )}
        <Problem error={error} />
        <form class="composer" onSubmit={send}>
          <label for="composer-text" class="sr-only">
            Message
          </label>
          <textarea
            id="composer-text"
            rows="3"
            value={text}
            placeholder={
              assistantId ? 'Ask something (Enter sends, Shift+Enter for a new line)' : 'Create an assistant first'
            }
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) send(e);
            }}
          />
          <button type="submit" disabled={!assistantId || active || streaming}>
            Send
          </button>
        </form>
        <div ref={bottom} />
      </section>
    </div>
  );
}
