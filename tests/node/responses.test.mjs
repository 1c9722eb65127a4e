// The official openai Node SDK's Responses and Conversations APIs against the real
// assistd binary: what a user's Node code migrating from Assistants does. One server
// for the file (see harness.mjs).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError, NotFoundError, toFile } from 'openai';

import { API_KEY, FakeLLM, startServer } from './harness.mjs';

let llm;
let server;
let client;

before(async () => {
  llm = await new FakeLLM().start();
  const env = { ASSISTD_LLM_BASE_URL: llm.baseURL };
  if (process.env.ASSISTD_EMBEDDED_EMBEDDER) env.ASSISTD_EMBEDDED_EMBEDDER = process.env.ASSISTD_EMBEDDED_EMBEDDER;
  server = await startServer(env);
  client = new OpenAI({ baseURL: server.baseURL, apiKey: API_KEY, maxRetries: 0, timeout: 30_000 });
});

after(async () => {
  await server?.stop();
  await llm?.close();
});

beforeEach(() => llm.reset());

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

const roles = (request) => request.messages.map((m) => [m.role, m.content]);

test('responses.create with instructions, retrieve, inputItems, delete', async () => {
  llm.script({ text: ['Hello', ' there.'] });
  const r = await client.responses.create({ model: 'gpt-4o', input: 'Hi!', instructions: 'Be brief.' });
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, 'Hello there.');
  assert.deepEqual(roles(llm.requests.at(-1)), [['system', 'Be brief.'], ['user', 'Hi!']]);
  const got = await client.responses.retrieve(r.id);
  assert.equal(got.output_text, 'Hello there.');
  const items = [];
  for await (const item of client.responses.inputItems.list(r.id)) items.push(item);
  assert.deepEqual(items.map((i) => i.type), ['message']);
  await client.responses.delete(r.id);
  await assert.rejects(client.responses.retrieve(r.id), NotFoundError);
});

test('responses.stream: output_text deltas and finalResponse()', async () => {
  llm.script({ text: ['Stream', 'ing ', 'works.'] });
  const stream = client.responses.stream({ model: 'gpt-4o', input: 'Stream please' });
  const deltas = [];
  stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
  const final = await stream.finalResponse();
  assert.deepEqual(deltas, ['Stream', 'ing ', 'works.']);
  assert.equal(final.output_text, 'Streaming works.');
  assert.equal(final.status, 'completed');
});

test('function round trip with previous_response_id', async () => {
  llm.script(
    { toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: ['{"city"', ':"Oslo"}'] }] },
    { text: ['3 degrees in Oslo.'] },
  );
  const r = await client.responses.create({ model: 'gpt-4o', input: 'Weather in Oslo?', tools: [weather] });
  const [call] = r.output;
  assert.equal(call.type, 'function_call');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
  const r2 = await client.responses.create({
    model: 'gpt-4o',
    previous_response_id: r.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 3}' }],
    tools: [weather],
  });
  assert.equal(r2.output_text, '3 degrees in Oslo.');
  const sent = llm.requests.at(-1).messages;
  assert.equal(sent[1].tool_calls[0].id, 'call_w');
  assert.deepEqual(sent[2], { role: 'tool', tool_call_id: 'call_w', content: '{"temp": 3}' });
});

test('conversations: create, a conversation across three responses, items.list', async () => {
  llm.script({ text: ['One.'] }, { text: ['Two.'] }, { text: ['Three.'] });
  const conv = await client.conversations.create({ metadata: { topic: 'count' } });
  assert.equal(conv.object, 'conversation');
  for (const word of ['Go', 'Again', 'More']) {
    const r = await client.responses.create({ model: 'gpt-4o', input: word, conversation: conv.id });
    assert.equal(r.conversation.id, conv.id);
  }
  assert.equal(llm.requests.at(-1).messages.length, 5);
  const items = [];
  for await (const item of client.conversations.items.list(conv.id, { order: 'asc' })) items.push(item);
  assert.deepEqual(
    items.map((i) => i.role),
    ['user', 'assistant', 'user', 'assistant', 'user', 'assistant'],
  );
  await client.conversations.update(conv.id, { metadata: { topic: 'done' } });
  assert.deepEqual((await client.conversations.retrieve(conv.id)).metadata, { topic: 'done' });
  await client.conversations.delete(conv.id);
  await assert.rejects(client.conversations.retrieve(conv.id), NotFoundError);
});

test('file_search over a vector store made with the Assistants-era API', async () => {
  const store = await client.vectorStores.create({ name: 'policy' });
  const file = await toFile(Buffer.from('Employees get 25 days of paid leave per year.'), 'policy.txt');
  await client.vectorStores.fileBatches.uploadAndPoll(store.id, { files: [file] });
  llm.script(
    { toolCalls: [{ id: 'call_fs', name: 'file_search', arguments: ['{"queries": ["paid leave days"]}'] }] },
    { text: ['25 days', ' 【0:0†policy.txt】.'] },
  );
  const r = await client.responses.create({
    model: 'gpt-4o',
    input: 'How many leave days?',
    tools: [{ type: 'file_search', vector_store_ids: [store.id] }],
    include: ['file_search_call.results'],
  });
  const [call, message] = r.output;
  assert.equal(call.type, 'file_search_call');
  assert.equal(call.results[0].filename, 'policy.txt');
  const [annotation] = message.content[0].annotations;
  assert.equal(annotation.type, 'file_citation');
  assert.equal(annotation.filename, 'policy.txt');
});

test('errors: an unsupported tool, both context sources, a missing previous response', async () => {
  await assert.rejects(client.responses.create({ model: 'gpt-4o', input: 'x', tools: [{ type: 'web_search' }] }), (e) => {
    assert.ok(e instanceof BadRequestError);
    assert.equal(e.param, 'tools[0].type');
    return true;
  });
  await assert.rejects(
    client.responses.create({ model: 'gpt-4o', input: 'x', previous_response_id: 'resp_missing' }),
    (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.code, 'previous_response_not_found');
      return true;
    },
  );
});

test('background: polling, streamed replay with starting_after, cancel', async () => {
  llm.script({ text: ['Back', 'ground.'] });
  const r = await client.responses.create({ model: 'gpt-4o', input: 'Work on it.', background: true });
  assert.ok(['queued', 'in_progress'].includes(r.status));
  let done = r;
  for (let i = 0; i < 200 && ['queued', 'in_progress'].includes(done.status); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    done = await client.responses.retrieve(r.id);
  }
  assert.equal(done.status, 'completed');
  assert.equal(done.output_text, 'Background.');
  const replay = [];
  for await (const event of await client.responses.retrieve(r.id, { stream: true, starting_after: 2 })) replay.push(event);
  assert.equal(replay[0].sequence_number, 3);
  assert.equal(replay.at(-1).type, 'response.completed');

  llm.script({ text: ['a', 'b', 'c', 'd', 'e', 'f'], delayMs: 400 });
  const slow = await client.responses.create({ model: 'gpt-4o', input: 'Slowly.', background: true });
  await new Promise((resolve) => setTimeout(resolve, 600));
  const cancelled = await client.responses.cancel(slow.id);
  assert.equal(cancelled.status, 'cancelled');
});

test('inputTokens.count and compact', async () => {
  const counted = await client.responses.inputTokens.count({ model: 'gpt-4o', input: 'Hello there' });
  assert.equal(counted.object, 'response.input_tokens');
  assert.ok(counted.input_tokens > 0);
  llm.script({ text: ['Noted.'] }, { text: ['Ada wants tea.'] });
  const r = await client.responses.create({ model: 'gpt-4o', input: 'I am Ada and I want tea.' });
  const compacted = await client.responses.compact({ model: 'gpt-4o', previous_response_id: r.id });
  assert.equal(compacted.object, 'response.compaction');
  assert.equal(compacted.output[0].type, 'compaction');
});
