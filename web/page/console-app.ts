// The web console (issue #12): the runs list with filters, live while runs are active; a run's detail
// with its timeline, error and result, and cancel; starting a run; the chart of the last days. One
// page served by the check function at GET /, talking to the same HTTP API as the CLI.

import { ApiError, type Credential, createApiClient } from './api-client.ts';
import { describeCredential, loadCredential, saveCredential } from './credential-store.ts';
import { byId, fill, h } from './element-builder.ts';
import { retryPending } from './run-attempts.ts';
import { runChart } from './run-chart-view.ts';
import { runDetail } from './run-detail-view.ts';
import { runRow } from './run-list-view.ts';
import {
  FILTER_NAMES,
  type Filters,
  filtersFromFragment,
  fragmentOf,
  listQuery,
  NO_FILTERS,
  runFromFragment,
} from './run-query.ts';
import { startRequestOf } from './run-request-form.ts';
import { CHART_MAX_PAGES, CHART_PAGE_LIMIT, summarizeRuns, windowStart } from './run-stats.ts';
import { isActive } from './run-status.ts';
import type { RunView } from './run-types.ts';
import { localTime } from './time-format.ts';

/** Runs per list page. */
const PAGE_SIZE = 50;
/** Requests at most for one refresh of the list (a rare filter can answer short pages). */
const LIST_MAX_PAGES = 10;
/** Refresh periods: while a listed run is active, and otherwise (to see runs started elsewhere). */
const LIVE_MS = 5_000;
const IDLE_MS = 60_000;
const DETAIL_LIVE_MS = 3_000;
/** After a failed list request (the service, not the credential). */
const RETRY_MS = 15_000;

/** A run worth refreshing: not over yet, or over with its next attempt still to start (a retry). */
const isLive = (run: RunView): boolean => isActive(run.status) || retryPending(run);

let credential: Credential | undefined = loadCredential();
/** Set when the service refused the credential: nothing polls until another one is given. */
let refused = false;
let filters: Filters = filtersFromFragment(location.hash);
let runs: RunView[] = [];
let listQueryText = '';
let nextCursor: string | null = null;
let listTimer: number | undefined;
let detailTimer: number | undefined;
let openRunId: string | undefined;
let listGeneration = 0;

const api = createApiClient(document.baseURI, () => credential);

// ---- messages ---------------------------------------------------------------------------------------

const banner = byId<HTMLDivElement>('banner');

function showBanner(message: string | Node, kind: 'error' | 'info' = 'error'): void {
  fill(banner, message);
  banner.className = `banner ${kind}`;
  banner.hidden = false;
}

function clearBanner(): void {
  banner.hidden = true;
  banner.replaceChildren();
}

/** What went wrong, said so that a person knows what to do; a refused credential stops the polling. */
function report(error: unknown, what: string): void {
  if (error instanceof ApiError && error.refused) {
    refused = true;
    stopTimers();
    const why = `${error.status} ${error.code}: ${error.message}`;
    const hint =
      credential === undefined
        ? 'This service needs a credential: paste an API key or an IAM token above and press Use.'
        : `The ${describeCredential(credential)} was refused. Paste a valid API key or IAM token above and press Use.`;
    showBanner(
      h('span', { 'data-part': 'credential-refused' }, h('strong', {}, 'Not allowed'), ` (${why}). ${hint}`),
    );
    byId<HTMLInputElement>('credential-value').focus();
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  showBanner(`Could not ${what}: ${message}`);
}

function stopTimers(): void {
  window.clearTimeout(listTimer);
  window.clearTimeout(detailTimer);
  listTimer = undefined;
  detailTimer = undefined;
}

// ---- credential -------------------------------------------------------------------------------------

function showCredential(): void {
  byId('credential-state').textContent =
    credential === undefined ? 'No credential' : `Using ${describeCredential(credential)}`;
  byId('credential-forget').hidden = credential === undefined;
}

byId<HTMLFormElement>('credential-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('credential-value');
  const value = input.value.trim();
  if (value === '') return;
  const kind = byId<HTMLSelectElement>('credential-kind').value === 'iam-token' ? 'iam-token' : 'api-key';
  credential = { kind, value };
  input.value = '';
  saveCredential(credential);
  showCredential();
  restart();
});

byId('credential-forget').addEventListener('click', () => {
  credential = undefined;
  saveCredential(undefined);
  showCredential();
  restart();
});

/** After a new credential (or none): everything is asked again. */
function restart(): void {
  refused = false;
  clearBanner();
  void loadList();
  void loadChart();
  if (openRunId !== undefined) void loadDetail(openRunId);
}

// ---- the list ---------------------------------------------------------------------------------------

const filterForm = byId<HTMLFormElement>('filters');

function showFilters(): void {
  for (const name of FILTER_NAMES) {
    const control = filterForm.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
    if (control !== null) control.value = filters[name];
  }
}

function readFilters(): Filters {
  const data = new FormData(filterForm);
  const read: Record<string, string> = {};
  for (const name of FILTER_NAMES) read[name] = String(data.get(name) ?? '').trim();
  return read as unknown as Filters;
}

function setFragment(): void {
  history.replaceState(null, '', fragmentOf(filters, openRunId) || location.pathname + location.search);
}

filterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  filters = readFilters();
  setFragment();
  void loadList();
  void loadChart();
});

byId('filters-reset').addEventListener('click', () => {
  filters = NO_FILTERS;
  showFilters();
  setFragment();
  void loadList();
  void loadChart();
});

byId('refresh').addEventListener('click', () => void loadList());
byId('more').addEventListener('click', () => void loadList(true));

function renderList(): void {
  const now = Date.now();
  fill(byId('run-rows'), ...runs.map((run) => runRow(run, now, openDetail)));
  byId('runs-empty').hidden = runs.length > 0;
  byId('more').hidden = nextCursor === null;
}

/**
 * Reads pages of `GET /runs` for `base`, starting at the cursor `from` when given, until `want` runs,
 * the last page, or `maxPages` requests; `pageLimit` runs per request at most. The answer's `cursor`
 * is where the next page starts (null: no more).
 */
async function readPages(
  base: URLSearchParams,
  want: number,
  pageLimit: number,
  maxPages: number,
  from: string | null = null,
): Promise<{ runs: RunView[]; cursor: string | null }> {
  const runs: RunView[] = [];
  let cursor = from;
  for (let pages = 0; pages < maxPages; pages++) {
    const query = new URLSearchParams(base);
    query.set('limit', String(Math.min(pageLimit, want - runs.length)));
    if (cursor !== null) query.set('cursor', cursor);
    const page = await api.listRuns(query);
    runs.push(...page.runs);
    cursor = page.nextCursor;
    if (cursor === null || runs.length >= want) break;
  }
  return { runs, cursor };
}

/**
 * Reads the list again from the top, as many runs as are shown (so a refresh never drops rows a person
 * paged to), or (`older`) the next page after the last one. A page's cursor belongs to the query that
 * made it, so the query text is kept with it.
 */
async function loadList(older = false): Promise<void> {
  const generation = ++listGeneration;
  window.clearTimeout(listTimer);
  try {
    if (older && nextCursor !== null) {
      const page = await readPages(new URLSearchParams(listQueryText), PAGE_SIZE, PAGE_SIZE, 1, nextCursor);
      if (generation !== listGeneration) return;
      const seen = new Set(runs.map((r) => r.runId));
      runs = [...runs, ...page.runs.filter((r) => !seen.has(r.runId))];
      nextCursor = page.cursor;
    } else {
      const base = listQuery(filters, new Date());
      const page = await readPages(base, Math.max(PAGE_SIZE, runs.length), 100, LIST_MAX_PAGES);
      if (generation !== listGeneration) return;
      runs = page.runs;
      nextCursor = page.cursor;
      listQueryText = base.toString();
    }
    if (!refused) clearBanner();
    renderList();
    scheduleList();
  } catch (error) {
    if (generation !== listGeneration) return;
    report(error, 'list the runs');
    // A service that failed (not a refused credential) is asked again a little later.
    if (!refused) {
      byId('live').textContent = `asking again in ${RETRY_MS / 1000} s`;
      listTimer = window.setTimeout(() => void loadList(), RETRY_MS);
    }
  }
}

function scheduleList(): void {
  window.clearTimeout(listTimer);
  if (refused) return;
  const active = runs.filter((run) => isActive(run.status)).length;
  const due = runs.filter(retryPending).length;
  const delay = active + due > 0 ? LIVE_MS : IDLE_MS;
  const live = [...(active > 0 ? [`${active} active`] : []), ...(due > 0 ? [`${due} retry due`] : [])];
  byId('live').textContent =
    `updated ${localTime(new Date().toISOString()).slice(11)} · ` +
    (live.length > 0
      ? `live: ${live.join(', ')}, refreshing every ${LIVE_MS / 1000} s`
      : `next refresh in ${IDLE_MS / 1000} s`);
  listTimer = window.setTimeout(() => {
    // A hidden tab does not poll; it refreshes as soon as it is shown again.
    if (document.hidden) document.addEventListener('visibilitychange', () => void loadList(), { once: true });
    else void loadList();
  }, delay);
}

// ---- the chart --------------------------------------------------------------------------------------

/** The chart follows the project/notebook/job filters; the status and time filters are its own. */
let chartGeneration = 0;

async function loadChart(): Promise<void> {
  const generation = ++chartGeneration;
  const now = new Date();
  const base = listQuery(
    { ...NO_FILTERS, projectId: filters.projectId, notebookId: filters.notebookId, job: filters.job },
    now,
  );
  base.set('since', windowStart(now).toISOString());
  let read: { runs: RunView[]; cursor: string | null };
  try {
    read = await readPages(base, Number.POSITIVE_INFINITY, CHART_PAGE_LIMIT, CHART_MAX_PAGES);
  } catch (error) {
    if (generation === chartGeneration) report(error, 'read the runs for the chart');
    return;
  }
  // A later load (a filter changed, a run was started) has the newer figures.
  if (generation !== chartGeneration) return;
  const { runs: collected, cursor } = read;
  const stats = summarizeRuns(collected, now);
  fill(byId('chart'), ...runChart(stats));
  byId('chart-note').textContent =
    `${stats.runs} runs, ${stats.finished} finished` +
    (cursor === null
      ? ''
      : ` · only the newest ${collected.length} runs read (${CHART_MAX_PAGES} requests at most)`);
}

byId('chart-refresh').addEventListener('click', () => void loadChart());

// ---- one run ----------------------------------------------------------------------------------------

const dialog = byId<HTMLDialogElement>('detail');
const cancelButton = byId<HTMLButtonElement>('detail-cancel');
let confirmTimer: number | undefined;

function openDetail(runId: string): void {
  openRunId = runId;
  setFragment();
  fill(byId('detail-title'), 'Run ', h('span', { class: 'mono' }, runId));
  fill(byId('detail-body'), h('p', { class: 'muted' }, 'Loading…'));
  byId('detail-message').textContent = '';
  resetCancel();
  cancelButton.hidden = true;
  if (!dialog.open) dialog.showModal();
  void loadDetail(runId);
}

function closeDetail(): void {
  openRunId = undefined;
  window.clearTimeout(detailTimer);
  if (dialog.open) dialog.close();
  setFragment();
}

byId('detail-close').addEventListener('click', closeDetail);
dialog.addEventListener('close', () => {
  if (openRunId !== undefined) closeDetail();
});

function showRun(run: RunView): void {
  fill(byId('detail-body'), runDetail(run, Date.now()));
  cancelButton.hidden = !isActive(run.status);
  byId('detail-live').textContent = isLive(run) ? `live, every ${DETAIL_LIVE_MS / 1000} s` : '';
  // The list shows the same run: keep both telling the same story.
  const index = runs.findIndex((r) => r.runId === run.runId);
  if (index >= 0 && runs[index]?.status !== run.status) {
    runs[index] = run;
    renderList();
  }
}

async function loadDetail(runId: string): Promise<void> {
  window.clearTimeout(detailTimer);
  try {
    const run = await api.getRun(runId);
    if (openRunId !== runId) return;
    showRun(run);
    if (isLive(run) && !refused) {
      detailTimer = window.setTimeout(() => void loadDetail(runId), DETAIL_LIVE_MS);
    }
  } catch (error) {
    if (openRunId !== runId) return;
    if (error instanceof ApiError && error.refused) {
      closeDetail();
      report(error, 'read the run');
      return;
    }
    fill(
      byId('detail-body'),
      h('p', { class: 'box error' }, error instanceof Error ? error.message : String(error)),
    );
  }
}

function resetCancel(): void {
  window.clearTimeout(confirmTimer);
  cancelButton.textContent = 'Cancel run';
  cancelButton.className = '';
  cancelButton.disabled = false;
  delete cancelButton.dataset.confirm;
}

cancelButton.addEventListener('click', async () => {
  const runId = openRunId;
  if (runId === undefined) return;
  // Two presses, no modal prompt: the first arms the button for a few seconds.
  if (cancelButton.dataset.confirm === undefined) {
    cancelButton.dataset.confirm = 'armed';
    cancelButton.textContent = 'Confirm: cancel this run';
    cancelButton.className = 'danger';
    confirmTimer = window.setTimeout(resetCancel, 5_000);
    return;
  }
  resetCancel();
  cancelButton.disabled = true;
  const message = byId('detail-message');
  message.textContent = 'Asking to cancel…';
  try {
    const run = await api.cancelRun(runId);
    message.textContent = 'Cancel requested: the run ends as soon as DataSphere confirms.';
    if (openRunId === runId) showRun(run);
    void loadDetail(runId);
    void loadList();
  } catch (error) {
    cancelButton.disabled = false;
    if (error instanceof ApiError && error.refused) {
      message.textContent = `Not allowed to cancel: ${error.message}`;
      return;
    }
    message.textContent = `Could not cancel: ${error instanceof Error ? error.message : String(error)}`;
  }
});

// ---- start a run ------------------------------------------------------------------------------------

const startForm = byId<HTMLFormElement>('start-form');

startForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(startForm);
  const result = byId('start-result');
  const parsed = startRequestOf({
    projectId: String(data.get('projectId') ?? ''),
    notebookId: String(data.get('notebookId') ?? ''),
    variables: String(data.get('variables') ?? ''),
  });
  if ('problems' in parsed) {
    fill(result, h('ul', { class: 'problems' }, ...parsed.problems.map((p) => h('li', {}, p))));
    return;
  }
  const submit = startForm.querySelector('button[type=submit]') as HTMLButtonElement;
  submit.disabled = true;
  fill(result, 'Starting…');
  try {
    const run = await api.startRun(parsed.request);
    const open = h('button', { type: 'button', class: 'link' }, 'open it');
    open.addEventListener('click', () => openDetail(run.runId));
    fill(result, h('span', { 'data-run-id': run.runId }, `Run ${run.runId} is ${run.status}: `), open);
    void loadList();
    void loadChart();
  } catch (error) {
    const problems = error instanceof ApiError ? error.problems : [];
    fill(
      result,
      h(
        'span',
        { class: 'problems' },
        `Not started: ${error instanceof Error ? error.message : String(error)}`,
      ),
      problems.length > 1
        ? h('ul', { class: 'problems' }, ...problems.map((p) => h('li', {}, p)))
        : undefined,
    );
  } finally {
    submit.disabled = false;
  }
});

// ---- start ------------------------------------------------------------------------------------------

window.addEventListener('hashchange', () => {
  const runId = runFromFragment(location.hash);
  if (runId !== undefined && runId !== openRunId) openDetail(runId);
  if (runId === undefined && openRunId !== undefined) closeDetail();
});

showCredential();
showFilters();
void loadList();
void loadChart();
const initialRun = runFromFragment(location.hash);
if (initialRun !== undefined) openDetail(initialRun);
