// The official openai Node SDK (pinned in package.json) against the real assistd binary,
// doing what a user's Node code does. One server for the file (see harness.mjs).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { AuthenticationError, NotFoundError, BadRequestError, toFile } from 'openai';

import { API_KEY, DEFAULT_ANSWER, FakeLLM, startServer } from './harness.mjs';

let llm;
let server;
let client;
let scratch;

before(async () => {
  llm = await new FakeLLM().start();
  const env = { ASSISTD_LLM_BASE_URL: llm.baseURL };
  // hybrid search when scripts/test installed the embedded embedder
  if (process.env.ASSISTD_EMBEDDED_EMBEDDER) env.ASSISTD_EMBEDDED_EMBEDDER = process.env.ASSISTD_EMBEDDED_EMBEDDER;
  server = await startServer(env);
  client = new OpenAI({ baseURL: server.baseURL, apiKey: API_KEY, maxRetries: 0, timeout: 30_000 });
  scratch = mkdtempSync(join(tmpdir(), 'assistd-node-files-'));
});

after(async () => {
  await server?.stop();
  await llm?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => llm.reset());

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('assistants: create, retrieve, update, list with auto-pagination, delete', async () => {
  const created = [];
  for (let i = 0; i < 23; i++) {
    created.push(await client.beta.assistants.create({ model: 'gpt-4o', name: `node ${i}`, tools: [weather] }));
  }
  const got = await client.beta.assistants.retrieve(created[0].id);
  assert.equal(got.name, 'node 0');
  assert.equal(got.tools[0].function.name, 'get_weather');
  const updated = await client.beta.assistants.update(created[0].id, { instructions: 'Be brief.', metadata: { k: 'v' } });
  assert.equal(updated.instructions, 'Be brief.');
  assert.deepEqual(updated.metadata, { k: 'v' });

  // the SDK follows `after` cursors page by page
  const seen = new Set();
  for await (const a of client.beta.assistants.list({ limit: 5, order: 'asc' })) {
    seen.add(a.id);
  }
  for (const a of created) assert.ok(seen.has(a.id), `${a.id} listed`);
  const firstPage = await client.beta.assistants.list({ limit: 5 });
  assert.equal(firstPage.data.length, 5);
  assert.ok(firstPage.hasNextPage());

  for (const a of created) {
    const deleted = await client.beta.assistants.delete(a.id);
    assert.equal(deleted.deleted, true);
  }
  await assert.rejects(client.beta.assistants.retrieve(created[0].id), NotFoundError);
});

test('threads and messages', async () => {
  const thread = await client.beta.threads.create({
    messages: [{ role: 'user', content: 'first' }],
    metadata: { topic: 'node' },
  });
  assert.equal(thread.object, 'thread');
  assert.deepEqual((await client.beta.threads.retrieve(thread.id)).metadata, { topic: 'node' });
  const second = await client.beta.threads.messages.create(thread.id, { role: 'user', content: 'second' });
  assert.equal(second.content[0].text.value, 'second');
  const again = await client.beta.threads.messages.retrieve(second.id, { thread_id: thread.id });
  assert.equal(again.id, second.id);
  const tagged = await client.beta.threads.messages.update(second.id, { thread_id: thread.id, metadata: { seen: 'yes' } });
  assert.deepEqual(tagged.metadata, { seen: 'yes' });
  const texts = [];
  for await (const m of client.beta.threads.messages.list(thread.id, { order: 'asc', limit: 1 })) {
    texts.push(m.content[0].text.value);
  }
  assert.deepEqual(texts, ['first', 'second']);
  assert.equal((await client.beta.threads.messages.delete(second.id, { thread_id: thread.id })).deleted, true);
  assert.equal((await client.beta.threads.delete(thread.id)).deleted, true);
  await assert.rejects(client.beta.threads.retrieve(thread.id), NotFoundError);
});

test('runs.createAndPoll follows the server poll hint and completes', async () => {
  const assistant = await client.beta.assistants.create({ model: 'gpt-4o', instructions: 'Answer.' });
  const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'hi' }] });
  const started = Date.now();
  const run = await client.beta.threads.runs.createAndPoll(thread.id, { assistant_id: assistant.id });
  const elapsed = Date.now() - started;
  assert.equal(run.status, 'completed');
  // without the server's openai-poll-after-ms hint the SDK would sleep 5 s between polls
  assert.ok(elapsed < 2500, `createAndPoll took ${elapsed} ms: the poll hint was not followed`);
  const messages = await client.beta.threads.messages.list(thread.id);
  assert.equal(messages.data[0].role, 'assistant');
  assert.equal(messages.data[0].content[0].text.value, DEFAULT_ANSWER.join(''));
  assert.equal(llm.requests.length, 1);
});

test('runs.stream: textDelta events and finalMessages()', async () => {
  llm.script({ text: ['Streaming', ' works', '.'] });
  const assistant = await client.beta.assistants.create({ model: 'gpt-4o' });
  const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'stream please' }] });
  const deltas = [];
  const events = [];
  const stream = client.beta.threads.runs
    .stream(thread.id, { assistant_id: assistant.id })
    .on('textDelta', (delta) => deltas.push(delta.value))
    .on('event', (e) => events.push(e.event));
  const final = await stream.finalMessages();
  assert.deepEqual(deltas, ['Streaming', ' works', '.']);
  assert.equal(final.at(-1).content[0].text.value, 'Streaming works.');
  assert.equal((await stream.finalRun()).status, 'completed');
  for (const e of ['thread.run.created', 'thread.message.delta', 'thread.run.completed']) {
    assert.ok(events.includes(e), `${e} in ${events}`);
  }
});

test('function round trip with submitToolOutputsStream', async () => {
  llm.script(
    { toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: ['{"city":', '"Paris"}'] }] },
    { text: ['Sunny', ' in Paris.'] },
  );
  const assistant = await client.beta.assistants.create({ model: 'gpt-4o', tools: [weather] });
  const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'weather in Paris?' }] });
  const first = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
  const run = await first.finalRun();
  assert.equal(run.status, 'requires_action');
  const call = run.required_action.submit_tool_outputs.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

  const deltas = [];
  const second = client.beta.threads.runs
    .submitToolOutputsStream(run.id, { thread_id: thread.id, tool_outputs: [{ tool_call_id: call.id, output: '22C, sunny' }] })
    .on('textDelta', (d) => deltas.push(d.value));
  const done = await second.finalRun();
  assert.equal(done.status, 'completed');
  assert.equal(deltas.join(''), 'Sunny in Paris.');
  // the model saw the output
  const toolMessage = llm.requests.at(-1).messages.find((m) => m.role === 'tool');
  assert.equal(toolMessage.content, '22C, sunny');
  const steps = await client.beta.threads.runs.steps.list(run.id, { thread_id: thread.id, order: 'asc' });
  assert.equal(steps.data[0].step_details.type, 'tool_calls');
  assert.equal(steps.data[0].step_details.tool_calls[0].function.output, '22C, sunny');
});

test('files.create from a stream, content, delete', async () => {
  const path = join(scratch, 'streamed.txt');
  writeFileSync(path, 'bytes from a Node read stream\n');
  const file = await client.files.create({ file: createReadStream(path), purpose: 'assistants' });
  assert.equal(file.filename, 'streamed.txt');
  assert.equal(file.bytes, 30);
  const content = await client.files.content(file.id);
  assert.equal(await content.text(), 'bytes from a Node read stream\n');
  assert.equal((await client.files.delete(file.id)).deleted, true);
  await assert.rejects(client.files.retrieve(file.id), NotFoundError);
});

test('uploads: create, parts, complete', async () => {
  const parts = ['first part, ', 'second part'];
  const bytes = parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
  const upload = await client.uploads.create({ filename: 'parts.txt', purpose: 'assistants', bytes, mime_type: 'text/plain' });
  const ids = [];
  for (const [i, p] of parts.entries()) {
    const part = await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from(p), `p${i}`) });
    ids.push(part.id);
  }
  const completed = await client.uploads.complete(upload.id, { part_ids: ids });
  assert.equal(completed.status, 'completed');
  const content = await client.files.content(completed.file.id);
  assert.equal(await content.text(), parts.join(''));
});

test('vectorStores.fileBatches.uploadAndPoll, then search', async () => {
  const store = await client.vectorStores.create({ name: 'node store' });
  const files = [
    await toFile(Buffer.from('The lighthouse keeper lights the lamp at dusk every evening.'), 'lighthouse.txt'),
    await toFile(Buffer.from('Sourdough bread needs a starter, flour, water and salt.'), 'bread.txt'),
  ];
  const batch = await client.vectorStores.fileBatches.uploadAndPoll(store.id, { files });
  assert.equal(batch.status, 'completed');
  assert.equal(batch.file_counts.completed, 2);
  const results = [];
  for await (const r of client.vectorStores.search(store.id, { query: 'when is the lamp lit', max_num_results: 2 })) {
    results.push(r);
  }
  assert.ok(results.length >= 1);
  assert.equal(results[0].filename, 'lighthouse.txt');
  assert.ok(results[0].score > 0);
  assert.match(results[0].content[0].text, /lighthouse keeper/);
});

test('file_search in a run: a cited answer', async () => {
  const store = await client.vectorStores.create({ name: 'policy' });
  const file = await toFile(Buffer.from('Employees get 25 days of paid leave per year.'), 'policy.txt');
  await client.vectorStores.fileBatches.uploadAndPoll(store.id, { files: [file] });
  llm.script(
    { toolCalls: [{ id: 'call_fs', name: 'file_search', arguments: ['{"queries": ["paid leave days"]}'] }] },
    { text: ['25 days', ' 【0:0†policy.txt】.'] },
  );
  const assistant = await client.beta.assistants.create({
    model: 'gpt-4o',
    tools: [{ type: 'file_search' }],
    tool_resources: { file_search: { vector_store_ids: [store.id] } },
  });
  const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'How many leave days?' }] });
  const run = await client.beta.threads.runs.createAndPoll(thread.id, { assistant_id: assistant.id });
  assert.equal(run.status, 'completed');
  const steps = await client.beta.threads.runs.steps.list(run.id, { thread_id: thread.id, order: 'asc' });
  const call = steps.data[0].step_details.tool_calls[0];
  assert.equal(call.type, 'file_search');
  const [answer] = (await client.beta.threads.messages.list(thread.id, { limit: 1 })).data;
  const annotations = answer.content[0].text.annotations;
  assert.equal(annotations.length, 1);
  assert.equal(annotations[0].type, 'file_citation');
});

test('models: list and retrieve what the backend serves', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('fake-model'), ids.join(', '));
  const m = await client.models.retrieve('fake-model');
  assert.deepEqual([m.object, m.owned_by, m.created], ['model', 'fake-backend', 1700000000]);
  await assert.rejects(client.models.retrieve('no-such-model'), NotFoundError);
});

test('errors: NotFoundError, AuthenticationError, BadRequestError', async () => {
  await assert.rejects(client.beta.assistants.retrieve('asst_missing'), (e) => {
    assert.ok(e instanceof NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
  const stranger = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(stranger.beta.assistants.list(), AuthenticationError);
  await assert.rejects(client.beta.assistants.create({ model: 'gpt-4o', temperature: 7 }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.param, 'temperature');
    return true;
  });
});
