/**
 * The web console in a real browser (issue #12): `npm start` in a child process on free ports, Debian's
 * Chromium driven by playwright-core (the system browser; nothing is downloaded), and a person's path
 * through the page: the runs the test started are listed and change status live, a filter narrows the
 * list, a run's detail shows its timeline and error, cancel works, a run started from the form appears,
 * the chart counts today's runs, and a refused credential says so clearly.
 *
 * Screenshots go to .local/screenshots/ (ignored by git); docs/console.png is a copy of the list one.
 *
 * The refused credential is refused by the service itself (`npm start` requires an API key on the
 * gateway routes, as the cloud's gateway does).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/ensure-chromium.ts';
import { type NpmStart, startNpmStart } from './support/npm-start.ts';

const root = join(import.meta.dirname, '..', '..');
const SCREENSHOTS = join(root, '.local', 'screenshots');
/** Obviously fake credentials. */
const GOOD_KEY = 'e2e-fake-api-key-0001';
const WRONG_KEY = 'e2e-wrong-api-key-0002';
const WAIT_MS = 60_000;

interface Run {
  readonly runId: string;
  readonly status: string;
  readonly projectId: string;
  readonly notebookId?: string;
}

describe('the web console in Chromium, against npm start', { timeout: 600_000 }, () => {
  let service: NpmStart;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const foreignRequests: string[] = [];
  const started: Record<'ok' | 'failing' | 'long', Run> = {} as never;

  const api = async (method: string, path: string, body?: unknown): Promise<Run> => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-api-key': GOOD_KEY,
        'idempotency-key': crypto.randomUUID(),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Run;
  };

  const row = (runId: string) => page.locator(`#run-rows tr[data-run-id="${runId}"]`);
  /** The text a person sees (rendered: table cells come out tab-separated). */
  const shown = (selector: string) =>
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText, the rendered text, is what is checked.
    page.locator(selector).first().innerText();
  const listedIds = () =>
    page.$$eval('#run-rows tr', (rows) => rows.map((r) => r.getAttribute('data-run-id') ?? ''));

  /** Polls `check` until it holds (the page refreshes by itself: nothing here reloads it). */
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + WAIT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  /** Waits until the run's row says `status`. */
  const rowStatus = (runId: string, status: string) =>
    page
      .locator(`#run-rows tr[data-run-id="${runId}"][data-status="${status}"]`)
      .waitFor({ timeout: WAIT_MS });

  const filterBy = async (values: Record<string, string>) => {
    await page.click('#filters-reset');
    for (const [name, value] of Object.entries(values)) {
      const control = page.locator(`#filters [name="${name}"]`);
      if ((await control.evaluate((e) => e.tagName)) === 'SELECT') await control.selectOption(value);
      else await control.fill(value);
    }
    await page.click('#filters button[type=submit]');
  };

  /** Waits until the list holds exactly these runs (in any order). */
  const listIs = (runIds: readonly string[]) =>
    until(`the list is ${runIds.join(', ')}`, async () => {
      const shown = await listedIds();
      return shown.length === runIds.length && runIds.every((id) => shown.includes(id));
    });

  before(async () => {
    const executablePath = ensureChromium();
    service = await startNpmStart({ args: ['--tick-seconds', '1', '--run-seconds', '3'] });
    // Flags for a machine without internet (node.md): no background calls home, no GPU, no sandbox as root.
    browser = await chromium.launch({
      executablePath,
      args: [
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    page.on('console', (message) => {
      // The stubbed 401 and 503 are logged by the browser as failed resources: they are the point of those checks.
      if (message.type() === 'error' && !/status of (401|503)/.test(message.text()))
        problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(`${service.url}/`) && !request.url().startsWith('data:')) {
        foreignRequests.push(request.url());
      }
    });
    started.ok = await api('POST', '/runs', { projectId: 'web-e2e-alpha', notebookId: 'nb/daily.ipynb' });
    started.failing = await api('POST', '/runs', {
      projectId: 'web-e2e-alpha',
      notebookId: 'nb/broken.ipynb',
      inputVariables: { EMULATOR_OUTCOME: 'OPERATION_ERROR' },
    });
    started.long = await api('POST', '/runs', {
      projectId: 'web-e2e-beta',
      notebookId: 'nb/long.ipynb',
      inputVariables: { EMULATOR_DURATION_MS: 600_000 },
    });
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('lists the runs the test started, with statuses in words, and follows them live', async () => {
    const response = await page.goto(`${service.url}/`);
    assert.equal(response?.status(), 200);
    assert.match(
      response?.headers()['content-security-policy'] ?? '',
      /^default-src 'none'; script-src 'sha256-/,
    );
    await page.fill('#credential-value', GOOD_KEY);
    await page.click('#credential-form button[type=submit]');
    await page.waitForSelector('#run-rows tr', { timeout: WAIT_MS });
    for (const run of Object.values(started)) await row(run.runId).waitFor({ timeout: WAIT_MS });
    // The page was loaded while they ran: it shows their ends without being reloaded.
    await rowStatus(started.ok.runId, 'SUCCEEDED');
    await rowStatus(started.failing.runId, 'FAILED');
    assert.match(await shown(`#run-rows tr[data-run-id="${started.ok.runId}"]`), /✓\s*SUCCEEDED/);
    assert.match(await shown(`#run-rows tr[data-run-id="${started.failing.runId}"]`), /✗\s*FAILED/);
    assert.match(
      await shown(`#run-rows tr[data-run-id="${started.long.runId}"]`),
      /▶\s*RUNNING[\s\S]*nb\/long\.ipynb[\s\S]*so far/,
    );
    assert.match(await shown('#live'), /live: 1 active/);
    assert.match(await shown('#credential-state'), /Using API key …0001/);
    assert.equal(
      await page.evaluate('sessionStorage.getItem("datasphere-runner.credential")'),
      JSON.stringify({ kind: 'api-key', value: GOOD_KEY }),
    );
  });

  it('narrows the list with a filter, and keeps the filter (never the credential) in the address', async () => {
    await filterBy({ status: 'FAILED' });
    await listIs([started.failing.runId]);
    await filterBy({ projectId: 'web-e2e-beta' });
    await listIs([started.long.runId]);
    await filterBy({ status: 'active', projectId: 'web-e2e-alpha' });
    await page.waitForSelector('#runs-empty:not([hidden])', { timeout: WAIT_MS });
    await filterBy({ projectId: 'web-e2e-alpha', period: '1h' });
    await listIs([started.ok.runId, started.failing.runId]);
    assert.match(page.url(), /#projectId=web-e2e-alpha&period=1h$/);
    assert.ok(!page.url().includes(GOOD_KEY));
    await page.click('#filters-reset');
    await listIs(Object.values(started).map((r) => r.runId));
  });

  it("opens a run's detail with its timeline, and a failed run's error", async () => {
    await row(started.failing.runId).click();
    await page.waitForSelector('#detail[open] [data-part=timeline] li', { timeout: WAIT_MS });
    const failing = await shown('#detail-body');
    assert.match(failing, /✗\s*FAILED/);
    assert.match(await shown('#detail [data-part=error]'), /Error \d+/);
    assert.match(
      await shown('#detail [data-part=timeline]'),
      // The record's own timeline (design.md §5 `events`): claimed, started, finished, reported.
      /claimed[\s\S]*started — \S+[\s\S]*finished — FAILED[\s\S]*reported/,
    );
    assert.equal(await page.isVisible('#detail-cancel'), false, 'an ended run has no cancel button');
    await page.click('#detail-close');
    await row(started.long.runId).click();
    await page.locator('#detail-body', { hasText: started.long.runId }).waitFor({ timeout: WAIT_MS });
    const timeline = await shown('#detail [data-part=timeline]');
    assert.match(timeline, /claimed/);
    assert.match(timeline, /started — \S+/);
    assert.match(page.url(), new RegExp(`#run=${started.long.runId}$`));
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'console-detail.png') });
  });

  it('cancels a run from its detail (two presses), and the run ends CANCELLED', async () => {
    await page.click('#detail-cancel');
    assert.match(await shown('#detail-cancel'), /Confirm/);
    await page.click('#detail-cancel');
    await page
      .locator('#detail-body .status', { hasText: 'CANCELLED' })
      .first()
      .waitFor({ timeout: WAIT_MS });
    const timeline = await shown('#detail [data-part=timeline]');
    assert.match(timeline, /cancel requested — user[\s\S]*finished — CANCELLED/);
    assert.match(await shown('#detail-message'), /Cancel requested/);
    await page.click('#detail-close');
    await rowStatus(started.long.runId, 'CANCELLED');
    assert.equal((await api('GET', `/runs/${started.long.runId}`)).status, 'CANCELLED');
  });

  it('starts a run from the form, which then appears in the list', async () => {
    await page.fill('#start-form [name=projectId]', 'web-e2e-gamma');
    await page.fill('#start-form [name=notebookId]', 'nb/from-the-page.ipynb');
    await page.fill('#start-form [name=variables]', 'REPORT_DATE=2025-06-01\nnot a variable');
    await page.click('#start-form button[type=submit]');
    assert.match(await shown('#start-result'), /variables, line 2: write NAME=value/);
    await page.fill('#start-form [name=variables]', 'REPORT_DATE=2025-06-01');
    await page.click('#start-form button[type=submit]');
    const fromPage = await page.waitForSelector('#start-result [data-run-id]', { timeout: WAIT_MS });
    const runId = (await fromPage.getAttribute('data-run-id')) ?? '';
    const run = await api('GET', `/runs/${runId}`);
    assert.equal(run.projectId, 'web-e2e-gamma');
    assert.equal(run.notebookId, 'nb/from-the-page.ipynb');
    await row(runId).waitFor({ timeout: WAIT_MS });
    await rowStatus(runId, 'SUCCEEDED');
    assert.equal((await listedIds()).length, 4);
  });

  it('charts the last 7 days: today counts the four runs by status, with durations', async () => {
    await page.click('#chart-refresh');
    // Today's row (the last is "All"): succeeded, failed, timed out, cancelled, active, total, p50, p95.
    const todayRow = '#chart [data-part=chart-table] tbody tr:nth-last-child(2)';
    await until('the chart counts 2 succeeded, 1 failed, 1 cancelled today', async () =>
      /\t2\t1\t0\t1\t0\t4\t[\d.]+ s\t[\d.]+ s$/.test(await shown(todayRow)),
    );
    assert.equal(await page.locator('#chart svg').count(), 2);
    assert.ok((await page.locator('#chart svg rect').count()) >= 3);
    assert.match(await shown('#chart-note'), /^4 runs, 4 finished$/);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SCREENSHOTS, 'console-list.png'), fullPage: true });
  });

  it('says clearly that a credential was refused, and stops asking with it', async () => {
    // The service itself refuses the wrong key (401 UNAUTHENTICATED): count the page's calls with it.
    let refusedCalls = 0;
    const countRefused = (request: { headers(): Record<string, string> }) => {
      if (request.headers()['x-api-key'] === WRONG_KEY) refusedCalls++;
    };
    page.on('request', countRefused);
    await page.fill('#credential-value', WRONG_KEY);
    await page.click('#credential-form button[type=submit]');
    await page.waitForSelector('#banner:not([hidden]) [data-part=credential-refused]', {
      timeout: WAIT_MS,
    });
    const text = await shown('#banner');
    assert.match(text, /Not allowed \(401 UNAUTHENTICATED: X-Api-Key: not a known API key\)/);
    assert.match(
      text,
      /The API key …0002 was refused\. Paste a valid API key or IAM token above and press Use\./,
    );
    assert.equal(
      await page.evaluate('document.activeElement && document.activeElement.id'),
      'credential-value',
    );
    assert.ok(!page.url().includes(WRONG_KEY), 'the key is never in the address');
    const calls = refusedCalls;
    await page.waitForTimeout(6_000);
    assert.equal(refusedCalls, calls, 'no polling with a refused credential');
    assert.ok(calls >= 1, 'the wrong key was really sent to the service');
    page.off('request', countRefused);
    // A good credential again: the banner goes and the list comes back.
    await page.fill('#credential-value', GOOD_KEY);
    await page.click('#credential-form button[type=submit]');
    await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: WAIT_MS });
    await row(started.ok.runId).waitFor({ timeout: WAIT_MS });
  });

  it('says when the service fails, and recovers when it answers again', async () => {
    await page.unrouteAll();
    let failures = 0;
    await page.route('**/runs?**', async (route) => {
      failures++;
      await route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'LEDGER_ERROR', message: 'the run ledger did not answer' } }),
      });
    });
    await page.click('#refresh');
    await page
      .locator('#banner', { hasText: 'Could not list the runs: the run ledger did not answer' })
      .waitFor({
        timeout: WAIT_MS,
      });
    assert.match(await shown('#live'), /asking again in 15 s/);
    assert.ok(failures >= 1);
    await page.unrouteAll();
    await page.click('#refresh');
    await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: WAIT_MS });
    await row(started.ok.runId).waitFor({ timeout: WAIT_MS });
  });

  it('marks a failed attempt whose retry is due, in the list and its detail, until the retry is stopped', async () => {
    const retrying = await api('POST', '/runs', {
      projectId: 'web-e2e-delta',
      notebookId: 'nb/retried.ipynb',
      inputVariables: { EMULATOR_OUTCOME: 'ERROR', EMULATOR_DURATION_MS: 300 },
      retry: { attempts: 2, delaySeconds: 3600 },
    });
    // Nothing was active: the page would look again only in a minute.
    await page.click('#refresh');
    await row(retrying.runId).waitFor({ timeout: WAIT_MS });
    await rowStatus(retrying.runId, 'FAILED');
    await until('the row says its retry is due', async () =>
      /✗\s*FAILED\s*retry: attempt 2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(
        await shown(`#run-rows tr[data-run-id="${retrying.runId}"]`),
      ),
    );
    assert.match(await shown('#live'), /live: 1 retry due, refreshing every 5 s/);
    await row(retrying.runId).click();
    await page.locator('#detail-body', { hasText: retrying.runId }).waitFor({ timeout: WAIT_MS });
    assert.match(
      await shown('#detail-body'),
      /Attempt\s+1\s+Retry\s+attempt 2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
    );
    assert.match(await shown('#detail-live'), /live, every 3 s/);
    // A cancel stops the retry: the attempt's FAILED is now the outcome, and says nothing of a retry.
    await api('POST', `/runs/${retrying.runId}/cancel`);
    await until('the detail no longer shows a retry', async () => !/Retry/.test(await shown('#detail-body')));
    assert.equal(await shown('#detail-live'), '');
    await page.click('#detail-close');
    await until(
      'the row no longer shows a retry',
      async () => !/retry:/.test(await shown(`#run-rows tr[data-run-id="${retrying.runId}"]`)),
    );
  });

  it('loaded nothing from elsewhere and logged no errors (no CSP violation, no script error)', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(problems, []);
  });
});
