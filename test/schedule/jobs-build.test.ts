import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../shared/errors.ts';
import { validateJobs } from '../../shared/schedule/jobs-file.ts';
import { loadJobsFile, locateJobsFile } from '../../shared/schedule/jobs-file-loader.ts';
import { parseRunRequest } from '../../shared/triggers/run-request.ts';

// What build.mjs does: locate the jobs file, validate it with the real run request validator.
const root = join(import.meta.dirname, '..', '..');
const deps = { parseRunRequest };

describe('the jobs file at build time, with the real run request validator', () => {
  it('accepts the repository jobs.yaml', () => {
    const { path, mustExist } = locateJobsFile(root, {});
    assert.deepEqual(loadJobsFile(path, deps, { mustExist }), []);
  });

  it('accepts every job of jobs.example.yaml', () => {
    const { path, mustExist } = locateJobsFile(root, { JOBS_FILE: 'jobs.example.yaml' });
    const jobs = loadJobsFile(path, deps, { mustExist });
    assert.deepEqual(
      jobs.map((job) => job.name),
      [
        'nightly-train',
        'evaluate-after-train',
        'weekday-report',
        'refresh-features',
        'month-end-close',
        'quarterly-review',
        'morning-open',
        'sunday-image',
      ],
    );
    assert.deepEqual(jobs[0]?.run, {
      projectId: 'bt1abcdefghijklmnopq',
      notebookId: 'notebooks/train.ipynb',
      inputVariables: { MODE: 'full' },
      timeoutSeconds: 21600,
    });
    assert.deepEqual(jobs[6]?.run, {
      action: 'open',
      projectId: 'bt1abcdefghijklmnopq',
      timeoutSeconds: 1800,
    });
    assert.deepEqual(jobs[7]?.run, {
      action: 'activate',
      projectId: 'bt1abcdefghijklmnopq',
      dockerId: 'bt1dockerimage000001',
    });
    // The embedded form is plain JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(jobs)), jobs);
  });

  it('fails a job with a bad run request, naming the job and the field', () => {
    const bad = (run: unknown) => () =>
      validateJobs({ jobs: { 'nightly-train': { schedule: '0 3 ? * *', run } } }, deps);
    assert.throws(bad({ notebookId: 'n.ipynb' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^jobs\.nightly-train\.run\.projectId: /);
      return true;
    });
    assert.throws(
      bad({ projectId: 'p', notebookId: 'n', timeoutSeconds: 0 }),
      /^ConfigError: jobs\.nightly-train\.run\.timeoutSeconds: /,
    );
    assert.throws(
      bad({ projectId: 'p', notebookId: 'n', extra: 1 }),
      /^ConfigError: jobs\.nightly-train\.run\.extra: /,
    );
  });

  it('fails an open or activate job that names a field its action does not take, or lacks dockerId', () => {
    const bad = (run: unknown) => () =>
      validateJobs({ jobs: { 'morning-open': { schedule: '45 5 ? * MON-FRI', run } } }, deps);
    assert.throws(
      bad({ action: 'open', projectId: 'p', notebookId: 'n.ipynb' }),
      /^ConfigError: jobs\.morning-open\.run\.notebookId: is not allowed with action "open"/,
    );
    assert.throws(
      bad({ action: 'activate', projectId: 'p' }),
      /^ConfigError: jobs\.morning-open\.run\.dockerId: is required with action "activate"/,
    );
    assert.throws(
      bad({ action: 'close', projectId: 'p' }),
      /^ConfigError: jobs\.morning-open\.run\.action: must be one of "execute", "open", "activate", got "close"/,
    );
  });
});

describe('job chains in the jobs file (after)', () => {
  const run = { projectId: 'p1', notebookId: 'nb.ipynb' };
  const check = (jobs: Record<string, unknown>) => () => validateJobs({ jobs }, deps);

  it('accepts a job with after instead of, or with, a schedule; on defaults to success', () => {
    const jobs = validateJobs(
      {
        jobs: {
          train: { schedule: '0 3 ? * *', run },
          report: { after: { job: 'train' }, run },
          alert: {
            after: { job: 'train', on: 'failure' },
            schedule: '0 12 ? * *',
            concurrency: 'queue',
            run,
          },
        },
      },
      deps,
    );
    assert.deepEqual(jobs[1], {
      name: 'report',
      after: { job: 'train', on: 'success' },
      concurrency: 'skip',
      run,
    });
    assert.deepEqual(jobs[2]?.after, { job: 'train', on: 'failure' });
    assert.equal(jobs[2]?.schedule, '0 12 ? * *');
    assert.equal(jobs[2]?.concurrency, 'queue');
  });

  it('fails an unknown upstream, naming the job and the name', () => {
    assert.throws(
      check({ train: { schedule: '0 3 ? * *', run }, report: { after: { job: 'trian' }, run } }),
      /^ConfigError: jobs\.report\.after\.job: no job named "trian" in the jobs file \(jobs: train, report\)$/,
    );
  });

  it('fails a cycle, naming its jobs, once per cycle', () => {
    assert.throws(
      check({
        a: { after: { job: 'c' }, run },
        b: { after: { job: 'a' }, run },
        c: { after: { job: 'b' }, run },
        d: { after: { job: 'c' }, run },
        self: { after: { job: 'self', on: 'always' }, run },
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.details?.problems, [
          'jobs.a.after: jobs a, c, b form a cycle (a runs after c, c runs after b, b runs after a): they would start each other for ever',
          'jobs.self.after: jobs self form a cycle (self runs after self): they would start each other for ever',
        ]);
        return true;
      },
    );
  });

  it('fails a bad after, a job with neither schedule nor after, and upstream variable names set by hand', () => {
    assert.throws(check({ a: { run } }), /jobs\.a\.schedule: required \(or "after"/);
    assert.throws(
      check({ a: { after: 'b', run } }),
      /jobs\.a\.after: must be a mapping like \{job: <name>, on: success\}/,
    );
    assert.throws(
      check({ a: { after: { job: 'b', on: 'done' }, run } }),
      /jobs\.a\.after\.on: must be one of "success", "failure", "always"/,
    );
    assert.throws(check({ a: { after: { job: 'b', when: 1 }, run } }), /jobs\.a\.after\.when: unknown key/);
    assert.throws(
      check({
        b: { schedule: '0 3 ? * *', run },
        a: { after: { job: 'b' }, run: { ...run, inputVariables: { UPSTREAM_RUN_ID: 'x' } } },
      }),
      /jobs\.a\.run\.inputVariables\.UPSTREAM_RUN_ID: is set for a chained job from its upstream run/,
    );
  });

  it('embeds scheduled jobs into execute and chained ones into check', async () => {
    const { jobsFor } = await import('../../build.mjs');
    const jobs = validateJobs(
      {
        jobs: {
          train: { schedule: '0 3 ? * *', run },
          report: { after: { job: 'train' }, run },
          both: { schedule: '0 4 ? * *', after: { job: 'train' }, run },
        },
      },
      deps,
    );
    assert.deepEqual(
      jobsFor('execute', jobs).map((j) => j.name),
      ['train', 'both'],
    );
    assert.deepEqual(
      jobsFor('check', jobs).map((j) => j.name),
      ['report', 'both'],
    );
    assert.deepEqual(jobsFor('cancel', jobs), []);
  });
});
