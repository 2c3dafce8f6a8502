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
    assert.deepEqual(jobs[5]?.run, {
      action: 'open',
      projectId: 'bt1abcdefghijklmnopq',
      timeoutSeconds: 1800,
    });
    assert.deepEqual(jobs[6]?.run, {
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
