import { createServer } from 'node:net';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  removeIsolatedResources,
  startProgram,
  stopProgram,
  waitReady,
  type Program,
} from '../e2e/support/system.js';
import { isolatedEnv, uniqueSuffix } from '../support/environment.js';

/** Debian's package; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe('browser: the live page in headless Chromium', function () {
  this.timeout(120_000);
  const env = {
    ...isolatedEnv('browser', uniqueSuffix()),
    CONSUMER_BATCH_WAIT_MS: '5',
    SHUTDOWN_TIMEOUT_MS: '5000',
    RATE_LIMIT_ENABLED: 'false',
    // Reconnects come quickly after the restart below.
    LIVE_RETRY_MS: '300',
  };
  let port: number;
  let api: Program;
  /** A second replica: where messages are sent while the page's replica restarts. */
  let other: Program;
  let consumer: Program;
  let browser: Browser;
  const base = () => `http://127.0.0.1:${port}`;

  before(async function () {
    port = await freePort();
    api = startProgram('api', { ...env, PORT: String(port) });
    other = startProgram('api', env);
    consumer = startProgram('consumer', env);
    await Promise.all([api.port, other.port, consumer.port]);
    await waitReady(base());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Running as root in CI containers: Chromium's sandbox needs user namespaces.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  after(async function () {
    await browser?.close();
    await Promise.all([api, other, consumer].filter(Boolean).map((p) => stopProgram(p)));
    await removeIsolatedResources(env);
  });

  const texts = (page: Page) =>
    page.evaluate<string[]>(
      "[...document.querySelectorAll('#messages li')].map((li) => li.textContent ?? '')",
    );
  const send = async (page: Page, text: string) => {
    await page.fill('#text', text);
    await page.click('#submit');
  };
  const live = (page: Page) =>
    page.waitForFunction("document.getElementById('status')?.textContent === 'live'");

  it('shows a message sent in one page in another page on the same chat within a second, and resumes after the server restarts without losing one', async () => {
    // Two tabs of one browser. The test's own probes are strings evaluated in the page,
    // which the page's Content-Security-Policy (no eval) would refuse.
    const context = await browser.newContext({ bypassCSP: true });
    const first = await context.newPage();
    await first.goto(`${base()}/`);
    await first.click('#start');
    await first.waitForFunction('/^#[^/]+\\/[0-9]+$/.test(location.hash)');
    await live(first);
    const second = await context.newPage();
    await second.goto(first.url());
    await live(second);

    await send(first, 'hello from the first tab');
    await second.waitForSelector('#messages li:has-text("hello from the first tab")', {
      timeout: 1_000,
    });
    await send(second, 'and back from the second');
    await first.waitForSelector('#messages li:has-text("and back from the second")', {
      timeout: 1_000,
    });

    // The page's replica stops (streams end cleanly), messages are sent to the other one
    // meanwhile, and it comes back on the same address.
    const [token, chat] = first.url().split('#')[1]!.split('/') as [string, string];
    await stopProgram(api);
    const otherBase = `http://127.0.0.1:${await other.port}`;
    const missed = ['while away 1', 'while away 2', 'while away 3'];
    for (const content of missed) {
      const res = await fetch(`${otherBase}/api/applications/${token}/chats/${chat}/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ message_content: content }),
      });
      expect(res.status).to.equal(201);
    }
    api = startProgram('api', { ...env, PORT: String(port) });
    await api.port;
    await waitReady(base());
    for (const page of [first, second]) {
      await page.waitForSelector('#messages li:has-text("while away 3")', { timeout: 15_000 });
      await live(page);
    }
    await send(second, 'after the restart');
    await first.waitForSelector('#messages li:has-text("after the restart")', { timeout: 1_000 });
    await second.waitForSelector('#messages li:has-text("after the restart")', { timeout: 1_000 });

    const expected = [
      '#1hello from the first tab',
      '#2and back from the second',
      '#3while away 1',
      '#4while away 2',
      '#5while away 3',
      '#6after the restart',
    ];
    for (const page of [first, second]) expect(await texts(page)).to.deep.equal(expected);
  });

  it('is not served when switched off', async () => {
    const off = startProgram('api', { ...env, LIVE_PAGE_ENABLED: 'false' });
    try {
      const res = await fetch(`http://127.0.0.1:${await off.port}/`);
      expect(res.status).to.equal(404);
    } finally {
      await stopProgram(off);
    }
  });
});
