// The playground in a real browser (Debian's chromium, driven by playwright-core)
// against the real assistd binary, with the Node suite's scripted fake model backend:
// the key prompt, an assistant made in the form, a file dropped into a vector store and
// searched, a chat whose run calls a function (the output typed in), file_search with a
// citation that opens the cited file, code_interpreter's code, logs and chart, a
// cancelled run, the model list, and deletes. A screenshot
// of each page goes to $ASSISTD_TEST_OUTPUT (default tests/browser/output).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

import { API_KEY, FakeLLM, startServer } from '../node/harness.mjs';

const CHROMIUM = process.env.ASSISTD_CHROMIUM ?? '/usr/bin/chromium';
const OUTPUT = process.env.ASSISTD_TEST_OUTPUT ?? join(import.meta.dirname, 'output');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const POLICY = 'Employees get 25 days of paid leave per year. Requests go to the people team.';

let llm;
let server;
let browser;
let page;
const problems = [];

before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  llm = await new FakeLLM().start();
  const env = { ASSISTD_LLM_BASE_URL: llm.baseURL, ASSISTD_MODEL_MAP: 'fast=fake-model' };
  if (process.env.ASSISTD_EMBEDDED_EMBEDDER) env.ASSISTD_EMBEDDED_EMBEDDER = process.env.ASSISTD_EMBEDDED_EMBEDDER;
  server = await startServer(env);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // the 401 that makes the page ask for a key is expected; no other failed request is
  page.on('response', (r) => {
    if (r.status() >= 400 && r.status() !== 401) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await llm?.close();
});

/**
 * A screenshot of the page, which must fit a laptop screen's width and pass axe-core's
 * WCAG 2 A/AA rules without a serious or critical violation (labels, contrast, roles…).
 */
async function shot(name) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  assert.ok(scroll <= inner, `${name}: the page is ${scroll}px wide in a ${inner}px window`);
  // evaluated over the DevTools protocol, which the page's CSP does not govern
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  assert.deepEqual(violations, [], `${name}: accessibility`);
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}
const go = (name) => page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name }).click();

test('the page is served, asks for the key and keeps it in session storage only', async () => {
  const res = await page.goto(`${server.rootURL}/playground`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/playground/');
  assert.match(res.headers()['content-security-policy'], /default-src 'self'/);
  await page.getByRole('alert').filter({ hasText: 'asked for an API key' }).waitFor();
  await page.getByRole('textbox', { name: 'API key' }).fill(API_KEY);
  await page.getByRole('button', { name: 'Use key' }).click();
  await page.getByRole('cell', { name: 'No assistants yet.' }).waitFor();
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem('assistd-api-key'),
    local: Object.keys(localStorage).length,
    cookie: document.cookie,
  }));
  assert.deepEqual(stored, { session: API_KEY, local: 0, cookie: '' });
});

test('files and vector stores: drop a file into a store, watch it index, search it', async () => {
  await go('Files & vector stores');
  await page.getByLabel('New store name').fill('handbook');
  await page.getByRole('button', { name: 'Create store' }).click();
  await page.getByRole('button', { name: 'handbook', exact: true }).waitFor();
  await page.getByLabel('Add uploads to vector store').selectOption({ label: 'handbook' });

  // a real drop event carrying a File, as a user's drag and drop makes
  const transfer = await page.evaluateHandle((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'policy.txt', { type: 'text/plain' }));
    return dt;
  }, POLICY);
  await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: transfer });

  const files = page.getByRole('table', { name: 'Files', exact: true });
  await files.getByRole('button', { name: 'policy.txt', exact: true }).waitFor();
  const storeFiles = page.getByRole('table', { name: 'Files of handbook' });
  await storeFiles.getByRole('row', { name: /policy\.txt/ }).getByText('completed').waitFor({ timeout: 60_000 });

  await page.getByLabel('Search this store').fill('how many days of paid leave');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const results = page.getByRole('list', { name: 'Search results' });
  await results.getByText('Employees get 25 days').waitFor();
  assert.match(await results.locator('li').first().innerText(), /policy\.txt[\s\S]*score \d\.\d{3}/);
  await shot('files');

  // the file input (the keyboard's way in); an HTML file opens as text, never as a page
  // of this origin (where it could read the key)
  await page.getByLabel('Add uploads to vector store').selectOption({ label: 'none' });
  await page.getByLabel('Choose files to upload').setInputFiles({
    name: 'note.html',
    mimeType: 'text/html',
    buffer: Buffer.from('<h1>hi</h1><script>window.pwned = sessionStorage.length</script>'),
  });
  const note = files.getByRole('button', { name: 'note.html', exact: true });
  await note.waitFor();
  const [opened] = await Promise.all([page.context().waitForEvent('page'), note.click()]);
  await opened.waitForURL(/^blob:/);
  assert.match(await opened.locator('body').innerText(), /<script>window\.pwned/);
  assert.equal(await opened.evaluate(() => window.pwned), undefined);
  await opened.close();
});

test('assistants: create one with file_search on the store and a function', async () => {
  await go('Assistants');
  await page.getByRole('button', { name: 'New assistant' }).click();
  const form = page.getByRole('form', { name: 'New assistant' });
  await form.getByLabel('Name').fill('Helper');
  await form.getByLabel('Model').fill('gpt-4o');
  await form.getByLabel('Instructions').fill('Answer from the handbook.');
  await form.getByLabel('file_search').check();
  await form.getByLabel('handbook').check();
  // bad JSON is refused in the page, with a message
  await form.getByLabel('Function definitions').fill('[{"name": ');
  await form.getByRole('button', { name: 'Create assistant' }).click();
  await form.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
  await form
    .getByLabel('Function definitions')
    .fill(JSON.stringify([{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }]));
  await form.getByRole('button', { name: 'Create assistant' }).click();
  const row = page.getByRole('table', { name: 'Assistants' }).getByRole('row', { name: /Helper/ });
  await row.waitFor();
  assert.match(await row.innerText(), /gpt-4o[\s\S]*file_search, get_weather/);
  // editing shows what was saved
  await row.getByRole('button', { name: 'Edit Helper' }).click();
  const edit = page.getByRole('form', { name: /^Edit asst_/ });
  assert.equal(await edit.getByLabel('Instructions').inputValue(), 'Answer from the handbook.');
  assert.ok(await edit.getByLabel('handbook').isChecked());
  assert.match(await edit.getByLabel('Function definitions').inputValue(), /"get_weather"/);
  await shot('assistants');
  // and saves a change: code_interpreter added
  await edit.getByLabel('code_interpreter').check();
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.waitFor({ state: 'detached' });
  await row.getByText('code_interpreter, file_search, get_weather').waitFor();
});

test('threads: streamed text, a function call answered in the page, file_search with a citation, cancel', async () => {
  await go('Threads');
  await page.getByLabel('Assistant').selectOption({ label: 'Helper' });

  // 1. the model calls the function; the page shows the call and takes its output
  llm.script(
    { toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: ['{"city":', ' "Paris"}'] }] },
    { text: ['It is', ' 22 C', ' and sunny', ' in Paris.'] },
  );
  await page.getByRole('textbox', { name: 'Message' }).fill('What is the weather in Paris?');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  const outputs = page.getByRole('form', { name: 'Tool outputs' });
  await outputs.waitFor();
  assert.match(await outputs.innerText(), /get_weather\(\{"city": "Paris"\}\)/);
  await page.getByRole('list', { name: 'Run steps' }).getByText('function get_weather').waitFor();
  await outputs.getByRole('textbox').fill('22 C, sunny');
  await outputs.getByRole('button', { name: 'Submit tool outputs' }).click();
  await page.getByText('It is 22 C and sunny in Paris.').waitFor();
  await page.locator('.run .status.completed').first().waitFor();
  const sent = llm.requests.at(-1).messages.at(-1);
  assert.equal(sent.role, 'tool');
  assert.equal(sent.content, '22 C, sunny');

  // 2. file_search: the step shows the query's results, the answer a citation
  llm.script(
    { toolCalls: [{ id: 'call_fs', name: 'file_search', arguments: ['{"queries": ["paid leave days"]}'] }] },
    { text: ['You get 25 days', ' 【0:0†policy.txt】.'] },
  );
  await page.getByRole('textbox', { name: 'Message' }).fill('How many days of leave do I get?');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('You get 25 days').waitFor();
  const steps = page.getByRole('list', { name: 'Run steps' });
  await steps.getByRole('list', { name: 'File search results' }).getByText('Employees get 25 days').waitFor();
  const citation = page.getByRole('button', { name: /^Open cited file file-/ });
  await citation.waitFor();
  await shot('threads');
  const [opened] = await Promise.all([page.context().waitForEvent('page'), citation.click()]);
  await opened.waitForURL(/^blob:/);
  assert.match(await opened.locator('body').innerText(), /25 days of paid leave/);
  await opened.close();

  // 3. code_interpreter in the sandbox: the code, its logs, the chart it draws
  const code = "import matplotlib.pyplot as plt\nprint('drawing squares')\nplt.plot([1, 4, 9])\nplt.show()";
  const args = JSON.stringify({ code });
  llm.script(
    { toolCalls: [{ id: 'call_ci', name: 'code_interpreter', arguments: [args.slice(0, 25), args.slice(25)] }] },
    { text: ['Here is', ' the chart.'] },
  );
  await page.getByRole('textbox', { name: 'Message' }).fill('Plot the squares.');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Here is the chart.').waitFor({ timeout: 90_000 });
  const codeStep = page.getByRole('list', { name: 'Run steps' });
  await codeStep.getByLabel('Code').filter({ hasText: 'plt.plot([1, 4, 9])' }).waitFor();
  await codeStep.getByLabel('Logs').filter({ hasText: 'drawing squares' }).waitFor();
  await codeStep.getByRole('img', { name: /^Image file file-/ }).waitFor();
  await page.getByRole('article', { name: 'assistant message' }).last().getByRole('img').waitFor();
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  await shot('threads-code');

  // 4. a slow answer, cancelled from the page
  llm.script({ text: Array.from({ length: 40 }, (_, i) => `word${i} `), delayMs: 250 });
  await page.getByRole('textbox', { name: 'Message' }).fill('Tell me a long story.');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('word1').waitFor();
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.locator('.run .status.cancelled').first().waitFor();
});

test('models: the model map and the backend', async () => {
  await go('Models');
  const table = page.getByRole('table', { name: 'Models' });
  await table.getByRole('cell', { name: 'fake-model', exact: true }).waitFor();
  const text = await table.innerText();
  assert.match(text, /fast\s+assistd \(model map: fake-model on the OpenAI-compatible backend\)/);
  assert.match(text, /fake-model\s+fake-backend/);
  await shot('models');
});

test('deleting an assistant and a file, after confirming', async () => {
  page.on('dialog', (d) => d.accept());
  await go('Assistants');
  await page.getByRole('button', { name: 'Delete Helper' }).click();
  await page.getByRole('cell', { name: 'No assistants yet.' }).waitFor();
  await go('Files & vector stores');
  await page.getByRole('button', { name: 'Delete note.html' }).click();
  await page.getByRole('button', { name: 'note.html', exact: true }).waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'policy.txt', exact: true }).waitFor();
});

test('the page raised no errors', () => {
  assert.deepEqual(problems, []);
});
