// The Node suite's fixtures: the real assistd binary and a scripted fake model backend.
//
// The server contract is the Python suite's (tests/sdk/conftest.py): `$ASSISTD_BIN serve
// --listen 127.0.0.1:0 --data-dir <tmp>` with `ASSISTD_API_KEYS`, every other inherited
// `ASSISTD_*` variable removed; with `ASSISTD_TEST_DATABASE_URL=postgres://…` a fresh
// database is created with psql for it and dropped afterwards; it prints one line
// `assistd listening on 127.0.0.1:<port>` once it accepts connections; SIGTERM stops it.
//
// The fake backend stands in for the model (outside our system): it records each chat
// completions request and answers with the next scripted reply, streamed as
// chat-completion chunks; with nothing scripted it answers DEFAULT_ANSWER.
//   {text: ["Hel", "lo"]}                                   text, then stop + usage
//   {toolCalls: [{id, name, arguments: ["{", "}"]}]}        tool calls
//   {error: 500, message}                                   an HTTP error
//   {text: [...], delayMs: 200}                             each piece after a pause
// GET /v1/models answers MODELS.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

export const API_KEY = 'sk-test-key-1';
export const DEFAULT_ANSWER = ['Hello', ' from', ' the', ' fake', ' model.'];
export const MODELS = [{ id: 'fake-model', object: 'model', created: 1700000000, owned_by: 'fake-backend' }];
const STARTUP_TIMEOUT_MS = 60_000;

export class FakeLLM {
  constructor() {
    this.replies = [];
    this.requests = [];
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseURL = `http://127.0.0.1:${this.server.address().port}/v1`;
    return this;
  }

  script(...replies) {
    this.replies.push(...replies);
  }

  reset() {
    this.replies = [];
    this.requests = [];
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const path = req.url.replace(/\/$/, '');
      if (req.method === 'GET' && path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: MODELS }));
        return;
      }
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      this.requests.push(body);
      const reply = this.replies.shift() ?? { text: DEFAULT_ANSWER };
      if (path !== '/v1/chat/completions') {
        res.writeHead(404).end();
        return;
      }
      if (reply.error) {
        const payload = JSON.stringify({ error: { message: reply.message ?? 'fake error', type: 'server_error' } });
        res.writeHead(reply.error, { 'content-type': 'application/json' }).end(payload);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'close' });
      for (const chunk of FakeLLM.chunks(reply)) {
        if (reply.delayMs) {
          await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
          if (res.destroyed) return;
        }
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    });
  }

  static *chunks(reply) {
    const chunk = (delta, finish = null) => ({
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      model: 'fake',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    let pieces = 0;
    for (const t of reply.text ?? []) {
      pieces += 1;
      yield chunk({ content: t });
    }
    const calls = reply.toolCalls ?? [];
    for (const [index, call] of calls.entries()) {
      yield chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] });
      for (const frag of call.arguments ?? []) {
        pieces += 1;
        yield chunk({ tool_calls: [{ index, function: { arguments: frag } }] });
      }
    }
    yield chunk({}, calls.length ? 'tool_calls' : 'stop');
    yield {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      model: 'fake',
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: pieces, total_tokens: 10 + pieces },
    };
  }
}

function psql(url, sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { stdio: 'pipe' });
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A running assistd: `baseURL` (…/v1), `rootURL`, `stop()`. */
export async function startServer(extraEnv = {}) {
  const binary = process.env.ASSISTD_BIN;
  if (!binary) {
    throw new Error('ASSISTD_BIN is not set: point it at the built assistd binary');
  }
  const dir = mkdtempSync(join(tmpdir(), 'assistd-node-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ASSISTD_')));
  env.ASSISTD_API_KEYS = API_KEY;
  Object.assign(env, extraEnv);
  let database = null;
  const admin = process.env.ASSISTD_TEST_DATABASE_URL;
  if (admin) {
    database = `assistd_node_${randomBytes(6).toString('hex')}`;
    psql(admin, `CREATE DATABASE "${database}"`);
    env.ASSISTD_DATABASE_URL = withDatabase(admin, database);
  }
  const stderrPath = join(dir, 'stderr.log');
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {
    env,
    stdio: ['ignore', 'pipe', openSync(stderrPath, 'w')],
  });
  const stderrTail = () => {
    try {
      return readFileSync(stderrPath, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  };
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`assistd did not start in time:\n${stderrTail()}`)), STARTUP_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^assistd listening on (127\.0\.0\.1:\d+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`assistd exited with ${code} before listening:\n${stderrTail()}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    if (database) {
      psql(admin, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { rootURL: `http://${address}`, baseURL: `http://${address}/v1`, stop, stderrTail };
}
