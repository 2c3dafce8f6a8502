import { RUN_ACTIONS, RUN_STATUSES, TRIGGER_KINDS } from '../../shared/core/run-record.ts';
import { PROGRAM } from '../arguments.ts';
import type { Command } from '../command-context.ts';
import { EXIT } from '../exit-codes.ts';
import {
  choiceOption,
  flag,
  integerOption,
  listOption,
  oneOf,
  stringOption,
  timeOption,
} from '../option-values.ts';
import type { RemoteRun } from '../remote-run.ts';
import { runsTable } from '../run-format.ts';

/** With --all, pages are read until the end or this many runs: a guard against an endless listing. */
const ALL_LIMIT = 10_000;

export const listCommand: Command = {
  spec: {
    name: 'list',
    summary: 'list runs, newest first',
    usage: 'list [--status S] [--job J] [--project P] [--notebook N] [--since T] [--limit N] [--all]',
    remote: true,
    details: ['Reads GET /runs. A longer history: the next page with --cursor, or every page with --all.'],
    options: [
      {
        name: 'status',
        short: 's',
        type: 'string',
        value: 'S',
        multiple: true,
        description: `only these statuses (comma-separated): ${RUN_STATUSES.join(', ')}`,
      },
      { name: 'job', type: 'string', value: 'J', description: 'only runs of this scheduled job' },
      { name: 'project', short: 'p', type: 'string', value: 'P', description: 'only runs of this project' },
      { name: 'notebook', short: 'n', type: 'string', value: 'N', description: 'only runs of this notebook' },
      {
        name: 'trigger',
        type: 'string',
        value: 'T',
        description: `only runs started by ${TRIGGER_KINDS.join(', ')}`,
      },
      {
        name: 'action',
        type: 'string',
        value: 'A',
        description: `only runs doing ${RUN_ACTIONS.join(', ')}`,
      },
      {
        name: 'since',
        type: 'string',
        value: 'TIME',
        description: 'created at or after: ISO time, date, or an age (2h, 7d)',
      },
      {
        name: 'until',
        type: 'string',
        value: 'TIME',
        description: 'created before: ISO time, date, or an age',
      },
      { name: 'limit', type: 'string', value: 'N', description: 'runs per page, 1..100 (default 20)' },
      { name: 'cursor', type: 'string', value: 'C', description: 'the next page, from the previous answer' },
      { name: 'all', type: 'boolean', description: `every page (up to ${ALL_LIMIT} runs)` },
    ],
    examples: [
      'datasphere-runner list',
      'datasphere-runner list --status FAILED,TIMED_OUT --since 7d',
      'datasphere-runner list --job nightly-train --limit 5 --json',
    ],
  },
  async run(context) {
    const v = context.values;
    const query = new URLSearchParams();
    const limit = integerOption(v, 'limit', { min: 1, max: 100 });
    if (limit !== undefined) query.set('limit', String(limit));
    const statuses = listOption(v, 'status')
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => oneOf(s, 'status', RUN_STATUSES));
    if (statuses.length > 0) query.set('status', [...new Set(statuses)].join(','));
    const now = context.io.now();
    const filters: [string, string | undefined][] = [
      ['projectId', stringOption(v, 'project')],
      ['notebookId', stringOption(v, 'notebook')],
      ['job', stringOption(v, 'job')],
      ['trigger', choiceOption(v, 'trigger', TRIGGER_KINDS)],
      ['action', choiceOption(v, 'action', RUN_ACTIONS)],
      ['since', timeOption(v, 'since', now)],
      ['until', timeOption(v, 'until', now)],
      ['cursor', stringOption(v, 'cursor')],
    ];
    for (const [name, value] of filters) if (value !== undefined && value !== '') query.set(name, value);

    const client = context.client();
    const all = flag(v, 'all');
    const runs: RemoteRun[] = [];
    let page = await client.listRuns(query);
    runs.push(...page.runs);
    while (all && page.nextCursor !== null && runs.length < ALL_LIMIT) {
      query.set('cursor', page.nextCursor);
      page = await client.listRuns(query);
      runs.push(...page.runs);
    }
    if (context.json) {
      context.printJson({ runs, nextCursor: page.nextCursor });
      return EXIT.OK;
    }
    if (runs.length === 0) {
      const filtered = [...query.keys()].some((k) => k !== 'limit' && k !== 'cursor');
      context.line(filtered ? 'no runs match' : 'no runs yet');
      return EXIT.OK;
    }
    const width = context.out.isTTY === true ? context.out.columns : undefined;
    for (const line of runsTable(runs, context.style, now, width)) context.line(line);
    if (page.nextCursor !== null) {
      context.line(
        context.style.dim(`more: ${PROGRAM} list ${repeatArgs(context.args)}--cursor ${page.nextCursor}`),
      );
    }
    return EXIT.OK;
  },
};

/** Options whose value is dropped from the "more:" hint: the old cursor, and credentials. */
const NOT_REPEATED = new Set(['--cursor', '--token', '--api-key']);

/** The options given, without the old cursor or any credential, so "more:" repeats the same filters. */
export function repeatArgs(args: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const name = arg.split('=')[0] ?? arg;
    if (NOT_REPEATED.has(name)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    if (arg === '--all') continue;
    kept.push(/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  }
  return kept.length === 0 ? '' : `${kept.join(' ')} `;
}
