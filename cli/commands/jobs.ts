/**
 * `jobs`: the scheduled jobs of the jobs file (JOBS_FILE or ./jobs.yaml, the file the build embeds),
 * validated exactly as the build validates it, with each job's next scheduled minutes. Reads no
 * service: it answers "what will run when" for the file in this checkout.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import type { RunRequest } from '../../shared/core/run-record.ts';
import { ConfigError } from '../../shared/errors.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { UsageError } from '../arguments.ts';
import type { Command } from '../command-context.ts';
import { EXIT } from '../exit-codes.ts';
import { integerOption, stringOption } from '../option-values.ts';
import { relative as relativeTime } from '../run-format.ts';

export const jobsCommand: Command = {
  spec: {
    name: 'jobs',
    summary: 'the scheduled jobs of the jobs file, with their next slots',
    usage: 'jobs [--file F] [--next N]',
    remote: false,
    details: [
      'Reads --file, else JOBS_FILE, else ./jobs.yaml, and validates it as npm run build does.',
      'Schedules are Yandex cron in UTC; each slot is shown in UTC with how far away it is.',
    ],
    options: [
      {
        name: 'file',
        short: 'f',
        type: 'string',
        value: 'F',
        description: 'the jobs file (default JOBS_FILE or ./jobs.yaml)',
      },
      {
        name: 'next',
        type: 'string',
        value: 'N',
        description: 'next slots shown per job, 1..100 (default 3)',
      },
    ],
    examples: ['datasphere-runner jobs', 'JOBS_FILE=local/demo-jobs.yaml datasphere-runner jobs --next 5'],
  },
  async run(context) {
    const count = integerOption(context.values, 'next', { min: 1, max: 100 }) ?? 3;
    const file = stringOption(context.values, 'file');
    // Loaded on use: the YAML parser and the cron code are needed by this command only.
    const [{ locateJobsFile, loadJobsFile }, { parseRunRequest }, { parseYandexCron }] = await Promise.all([
      import('../../shared/schedule/jobs-file-loader.ts'),
      import('../../shared/triggers/run-request.ts'),
      import('../../shared/schedule/yandex-cron.ts'),
    ]);
    const location =
      file === undefined
        ? locateJobsFile(context.io.cwd, context.io.env)
        : { path: isAbsolute(file) ? file : resolve(context.io.cwd, file), mustExist: true };
    let jobs: readonly JobDefinition<RunRequest>[];
    try {
      jobs = loadJobsFile(location.path, { parseRunRequest }, { mustExist: location.mustExist });
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`the jobs file is invalid:\n${error.message}`);
      throw error;
    }
    const now = context.io.now();
    const shown = relative(context.io.cwd, location.path) || location.path;
    const listed = jobs.map((job) => {
      const next: string[] = [];
      const cron =
        job.schedule === undefined ? undefined : parseYandexCron(job.schedule, `jobs.${job.name}.schedule`);
      let from = now;
      while (cron !== undefined && next.length < count) {
        const slot = cron.nextAfter(from);
        if (slot === undefined) break;
        next.push(slot.toISOString());
        from = slot;
      }
      return {
        name: job.name,
        ...(job.schedule === undefined ? {} : { schedule: job.schedule }),
        ...(job.after === undefined ? {} : { after: job.after }),
        concurrency: job.concurrency,
        run: job.run,
        next,
      };
    });
    if (context.json) {
      context.printJson({ file: location.path, jobs: listed });
      return EXIT.OK;
    }
    if (listed.length === 0) {
      context.line(
        `no jobs in ${shown}${location.mustExist ? '' : ' (the file is optional; set JOBS_FILE or --file)'}`,
      );
      return EXIT.OK;
    }
    context.line(
      context.style.dim(`${shown}: ${listed.length} job${listed.length === 1 ? '' : 's'} (times in UTC)`),
    );
    const { style } = context;
    for (const job of listed) {
      context.line();
      const when = [
        ...(job.schedule === undefined ? [] : [job.schedule]),
        ...(job.after === undefined ? [] : [`after ${job.after.job} (on ${job.after.on})`]),
      ].join(', ');
      context.line(`${style.bold(job.name)}  ${when}  ${style.dim(`concurrency ${job.concurrency}`)}`);
      const request = job.run as { action?: string; projectId: string; notebookId?: string };
      context.line(
        `  run   ${request.projectId} ${request.notebookId ?? `(${request.action ?? 'execute'})`}`,
      );
      if (job.schedule === undefined) continue;
      if (job.next.length === 0) context.line(`  next  ${style.dim('none: the schedule has no more slots')}`);
      job.next.forEach((slot, i) => {
        const label = i === 0 ? '  next  ' : '        ';
        context.line(`${label}${slot.slice(0, 16).replace('T', ' ')}  ${style.dim(relativeTime(slot, now))}`);
      });
    }
    return EXIT.OK;
  },
};
