// The chart of the last days: runs per day stacked by status, run duration p50/p95 per day (SVG), and
// the same figures as a table, which is what a screen reader or a colour-blind reader uses.

import { h, svg } from './element-builder.ts';
import { formatDuration, type RunStats } from './run-stats.ts';
import { signOf, statusWords } from './run-status.ts';
import { dayLabel } from './time-format.ts';

/** Bottom to top of a bar; the active statuses are summed in the table. */
const STACK = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'RUNNING', 'QUEUED', 'STARTING'] as const;
const ACTIVE = ['RUNNING', 'QUEUED', 'STARTING'] as const;
const W = 520;
const H = 170;
const LEFT = 30;
const BOTTOM = 18;
const TOP = 14;

/** A round axis maximum at or above `n` (1, 2, 5, 10, 20, 50…). */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

function frame(title: string, max: number, label: (v: number) => string, days: RunStats['days']): SVGElement {
  const plotH = H - TOP - BOTTOM;
  return svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title },
    svg('title', {}, title),
    svg('text', { x: LEFT - 4, y: TOP + 4, 'text-anchor': 'end' }, label(max)),
    svg('text', { x: LEFT - 4, y: TOP + plotH, 'text-anchor': 'end' }, label(0)),
    svg('line', {
      x1: LEFT,
      x2: W,
      y1: TOP + plotH,
      y2: TOP + plotH,
      stroke: 'currentColor',
      'stroke-opacity': 0.3,
    }),
    ...days.map((day, i) =>
      svg(
        'text',
        { x: LEFT + slot(days.length) * (i + 0.5), y: H - 4, 'text-anchor': 'middle' },
        dayLabel(day.start),
      ),
    ),
  );
}

const slot = (n: number) => (W - LEFT) / n;

function countsChart(stats: RunStats): SVGElement {
  const max = niceMax(Math.max(0, ...stats.days.map((d) => d.total)));
  const chart = frame('Runs per day by status', max, String, stats.days);
  const plotH = H - TOP - BOTTOM;
  const width = slot(stats.days.length) * 0.6;
  stats.days.forEach((day, i) => {
    const x = LEFT + slot(stats.days.length) * (i + 0.2);
    let y = TOP + plotH;
    for (const status of STACK) {
      const n = day.counts[status] ?? 0;
      if (n === 0) continue;
      const height = (n / max) * plotH;
      y -= height;
      chart.append(
        svg(
          'rect',
          { x, y, width, height, class: `fill-${status}` },
          svg('title', {}, `${dayLabel(day.start)}: ${n} ${statusWords(status)}`),
        ),
      );
    }
    if (day.total > 0) {
      chart.append(svg('text', { x: x + width / 2, y: y - 2, 'text-anchor': 'middle' }, day.total));
    }
  });
  return chart;
}

function durationChart(stats: RunStats): SVGElement {
  const max = Math.max(1000, ...stats.days.map((d) => d.p95 ?? 0));
  const chart = frame(
    'Run duration per day, p50 and p95',
    max,
    (v) => (v === 0 ? '0' : formatDuration(v)),
    stats.days,
  );
  const plotH = H - TOP - BOTTOM;
  const width = slot(stats.days.length) * 0.3;
  stats.days.forEach((day, i) => {
    const x = LEFT + slot(stats.days.length) * (i + 0.2);
    (['p50', 'p95'] as const).forEach((which, k) => {
      const value = day[which];
      if (value === undefined) return;
      const height = Math.max(1, (value / max) * plotH);
      chart.append(
        svg(
          'rect',
          { x: x + k * width, y: TOP + plotH - height, width, height, class: `fill-${which}` },
          svg('title', {}, `${dayLabel(day.start)}: ${which} ${formatDuration(value)}`),
        ),
      );
    });
  });
  return chart;
}

function legend(): HTMLElement {
  return h(
    'p',
    { class: 'small muted' },
    ...STACK.flatMap((status) => [
      h('span', { class: `status st-${status}` }, `${signOf(status)} ${statusWords(status)}`),
      '  ',
    ]),
    ' · duration: dark = p50, light = p95',
  );
}

function table(stats: RunStats): HTMLTableElement {
  const shown = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED'] as const;
  const duration = (v: number | undefined) => (v === undefined ? '–' : formatDuration(v));
  const cells = (counts: Readonly<Record<string, number>>, total: number, p50?: number, p95?: number) => [
    ...shown.map((s) => h('td', { class: 'num' }, counts[s] ?? 0)),
    h(
      'td',
      { class: 'num' },
      ACTIVE.reduce((n, s) => n + (counts[s] ?? 0), 0),
    ),
    h('td', { class: 'num' }, total),
    h('td', { class: 'num' }, duration(p50)),
    h('td', { class: 'num' }, duration(p95)),
  ];
  const sum: Record<string, number> = {};
  for (const day of stats.days) for (const [s, n] of Object.entries(day.counts)) sum[s] = (sum[s] ?? 0) + n;
  return h(
    'table',
    { 'data-part': 'chart-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Day'),
        ...shown.map((s) => h('th', { class: 'num' }, `${signOf(s)} ${statusWords(s)}`)),
        h('th', { class: 'num' }, '▶ active'),
        h('th', { class: 'num' }, 'total'),
        h('th', { class: 'num' }, 'p50'),
        h('th', { class: 'num' }, 'p95'),
      ),
    ),
    h(
      'tbody',
      {},
      ...stats.days.map((day) =>
        h(
          'tr',
          { 'data-day': day.key },
          h('td', {}, dayLabel(day.start)),
          ...cells(day.counts, day.total, day.p50, day.p95),
        ),
      ),
      h('tr', {}, h('th', {}, 'All'), ...cells(sum, stats.runs, stats.p50, stats.p95)),
    ),
  );
}

export function runChart(stats: RunStats): HTMLElement[] {
  return [h('div', {}, countsChart(stats), legend()), h('div', {}, durationChart(stats)), table(stats)];
}
