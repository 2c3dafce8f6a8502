import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, InvalidRequestError, isRunnerError } from '../../shared/errors.ts';
import { validateJobs } from '../../shared/schedule/jobs-file.ts';
import { loadJobsFile, locateJobsFile, parseJobsYaml } from '../../shared/schedule/jobs-file-loader.ts';

interface FakeRun {
  readonly projectId: string;
  readonly notebookId: string;
  readonly inputVariables?: Readonly<Record<string, string | number | boolean>>;
  readonly timeoutSeconds?: number;
}

const RUN_FIELDS = [
  'action',
  'projectId',
  'notebookId',
  'inputVariables',
  'outputVariableNames',
  'spec',
  'sparkConnectorId',
  'dockerId',
  'timeoutSeconds',
  'retry',
];

/** A small stand-in for the lead's parseRunRequest: same contract, fewer rules. */
function parseRunRequest(value: unknown, fieldPrefix: string): FakeRun {
  const at = (field: string) => (fieldPrefix ? `${fieldPrefix}.${field}` : field);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(fieldPrefix, 'must be an object');
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!RUN_FIELDS.includes(key)) {
      throw new InvalidRequestError(at(key), 'unknown field');
    }
  }
  if (typeof v.projectId !== 'string' || v.projectId === '')
    throw new InvalidRequestError(at('projectId'), 'required');
  if (typeof v.notebookId !== 'string' && v.action === undefined)
    throw new InvalidRequestError(at('notebookId'), 'required');
  if (
    v.timeoutSeconds !== undefined &&
    !(Number.isInteger(v.timeoutSeconds) && (v.timeoutSeconds as number) >= 1)
  ) {
    throw new InvalidRequestError(at('timeoutSeconds'), 'must be an integer 1..604800');
  }
  return v as unknown as FakeRun;
}

const deps = { parseRunRequest };

const RUN = { projectId: 'bt1abcdefghijklmnopq', notebookId: 'notebooks/train.ipynb' };

/** Asserts a ConfigError whose message is exactly `message`. */
function failsWith(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_ERROR');
    assert.equal(error.message, message);
    return true;
  });
}

describe('validateJobs', () => {
  it('returns the jobs in file order, with concurrency defaulting to skip and the validated run', () => {
    const jobs = validateJobs(
      {
        jobs: {
          'nightly-train': {
            schedule: '0 3 ? * * *',
            concurrency: 'skip',
            run: { ...RUN, inputVariables: { MODE: 'full' } },
          },
          hourly_report: { schedule: ' 0 * ? * * ', run: { ...RUN, timeoutSeconds: 600 } },
          Every5: { schedule: '*/5 * * * ? *', concurrency: 'allow', run: RUN },
        },
      },
      deps,
    );
    assert.deepEqual(jobs, [
      {
        name: 'nightly-train',
        schedule: '0 3 ? * * *',
        concurrency: 'skip',
        run: { ...RUN, inputVariables: { MODE: 'full' } },
      },
      {
        name: 'hourly_report',
        schedule: '0 * ? * *',
        concurrency: 'skip',
        run: { ...RUN, timeoutSeconds: 600 },
      },
      { name: 'Every5', schedule: '*/5 * * * ? *', concurrency: 'allow', run: RUN },
    ]);
  });

  it('passes each run to the validator with the job as the field prefix, and keeps what it returns', () => {
    const seen: Array<[unknown, string]> = [];
    const jobs = validateJobs(
      { jobs: { a: { schedule: '0 3 ? * *', run: { x: 1 } } } },
      {
        parseRunRequest: (value, prefix) => {
          seen.push([value, prefix]);
          return 'typed run';
        },
      },
    );
    assert.deepEqual(seen, [[{ x: 1 }, 'jobs.a.run']]);
    assert.equal(jobs[0]?.run, 'typed run');
  });

  it('answers no jobs for an empty document or an empty jobs mapping', () => {
    assert.deepEqual(validateJobs(null, deps), []);
    assert.deepEqual(validateJobs(undefined, deps), []);
    assert.deepEqual(validateJobs({}, deps), []);
    assert.deepEqual(validateJobs({ jobs: null }, deps), []);
    assert.deepEqual(validateJobs({ jobs: {} }, deps), []);
  });

  it('rejects a bad job name, naming it', () => {
    failsWith(
      () => validateJobs({ jobs: { 'nightly train': { schedule: '0 3 ? * *', run: RUN } } }, deps),
      'jobs."nightly train": job names are 1 to 64 letters, digits, "-" or "_"',
    );
    failsWith(
      () => validateJobs({ jobs: { ['x'.repeat(65)]: { schedule: '0 3 ? * *', run: RUN } } }, deps),
      `jobs."${'x'.repeat(65)}": job names are 1 to 64 letters, digits, "-" or "_"`,
    );
    failsWith(
      () => validateJobs({ jobs: { 'a:b': { schedule: '0 3 ? * *', run: RUN } } }, deps),
      'jobs."a:b": job names are 1 to 64 letters, digits, "-" or "_"',
    );
    assert.equal(
      validateJobs({ jobs: { ['x'.repeat(64)]: { schedule: '0 3 ? * *', run: RUN } } }, deps).length,
      1,
    );
  });

  it('rejects a bad schedule, naming the job, the expression and the problem', () => {
    failsWith(
      () => validateJobs({ jobs: { 'nightly-train': { schedule: '0 3 * * * *', run: RUN } } }, deps),
      'jobs.nightly-train.schedule: "0 3 * * * *": one of day-of-month and day-of-week must be "?"',
    );
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * 0 *', run: RUN } } }, deps),
      'jobs.n.schedule: "0 3 ? * 0 *": day-of-week: 0 is out of range 1-7 (1 = SUN, 2 = MON … 7 = SAT)',
    );
  });

  it('rejects a missing or non-string schedule', () => {
    failsWith(
      () => validateJobs({ jobs: { n: { run: RUN } } }, deps),
      'jobs.n.schedule: required (or "after", to run the job when another job\'s run ends)',
    );
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: 5, run: RUN } } }, deps),
      'jobs.n.schedule: must be a string (quote it in YAML), got number 5',
    );
  });

  it('rejects an unknown concurrency', () => {
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', concurrency: 'never', run: RUN } } }, deps),
      'jobs.n.concurrency: must be one of "skip", "allow", "queue", "replace", got "never"',
    );
  });

  it('rejects unknown keys at every level, naming them', () => {
    failsWith(
      () => validateJobs({ jobs: {}, job: {} }, deps),
      'job: unknown key; the jobs file has only "jobs"',
    );
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: RUN, timezone: 'UTC' } } }, deps),
      'jobs.n.timezone: unknown key (allowed: schedule, after, concurrency, run)',
    );
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: { ...RUN, notebook: 'x' } } } }, deps),
      'jobs.n.run.notebook: unknown field',
    );
  });

  it('rejects a bad run request through the injected validator, naming the job and field', () => {
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: { notebookId: 'x' } } } }, deps),
      'jobs.n.run.projectId: required',
    );
    failsWith(
      () =>
        validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: { ...RUN, timeoutSeconds: 0 } } } }, deps),
      'jobs.n.run.timeoutSeconds: must be an integer 1..604800',
    );
    failsWith(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: 'train.ipynb' } } }, deps),
      'jobs.n.run: must be an object',
    );
    failsWith(() => validateJobs({ jobs: { n: { schedule: '0 3 ? * *' } } }, deps), 'jobs.n.run: required');
  });

  it('prefixes a field the validator reported without the job, and keeps the validator error as cause', () => {
    const bare = () => {
      throw new InvalidRequestError('notebookId', 'too long');
    };
    assert.throws(
      () => validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: RUN } } }, { parseRunRequest: bare }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, 'jobs.n.run.notebookId: too long');
        assert.equal(error.setting, 'jobs.n.run.notebookId');
        assert.ok(error.cause instanceof InvalidRequestError);
        return true;
      },
    );
  });

  it('lets an unexpected validator failure (a bug) through unchanged', () => {
    const bug = new TypeError('boom');
    assert.throws(
      () =>
        validateJobs(
          { jobs: { n: { schedule: '0 3 ? * *', run: RUN } } },
          {
            parseRunRequest: () => {
              throw bug;
            },
          },
        ),
      (error: unknown) => error === bug,
    );
  });

  it('rejects idempotencyKey and concurrency inside a run and says where concurrency goes', () => {
    failsWith(
      () =>
        validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: { ...RUN, concurrency: 'allow' } } } }, deps),
      'jobs.n.run.concurrency: not allowed in a job\'s run; set "concurrency" on the job itself',
    );
    failsWith(
      () =>
        validateJobs({ jobs: { n: { schedule: '0 3 ? * *', run: { ...RUN, idempotencyKey: 'k' } } } }, deps),
      "jobs.n.run.idempotencyKey: not allowed in a job's run; each (job, scheduled minute) starts at most once by itself",
    );
  });

  it('rejects a document or jobs value of the wrong shape', () => {
    failsWith(() => validateJobs(['a'], deps), 'jobs file: must be a mapping with a "jobs" key, got a list');
    failsWith(
      () => validateJobs({ jobs: ['a'] }, deps),
      'jobs: must be a mapping of job name to job, got a list',
    );
    failsWith(
      () => validateJobs({ jobs: { n: '0 3 ? * *' } }, deps),
      'jobs.n: must be a mapping with "schedule" and/or "after", "run" and optional "concurrency", got "0 3 ? * *"',
    );
  });

  it('reports every bad job at once, one line each, the first problem of each job', () => {
    assert.throws(
      () =>
        validateJobs(
          {
            jobs: {
              good: { schedule: '0 3 ? * *', run: RUN },
              a: { schedule: '0 3 * * *', run: {} },
              b: { schedule: '0 3 ? * *', run: {} },
            },
          },
          deps,
        ),
      (error: unknown) => {
        assert.ok(isRunnerError(error) && error instanceof ConfigError);
        assert.equal(error.setting, 'jobs.a.schedule');
        assert.equal(
          error.message,
          'jobs.a.schedule: "0 3 * * *": one of day-of-month and day-of-week must be "?"\n' +
            'jobs.b.run.projectId: required',
        );
        assert.deepEqual(error.details?.problems, [
          'jobs.a.schedule: "0 3 * * *": one of day-of-month and day-of-week must be "?"',
          'jobs.b.run.projectId: required',
        ]);
        return true;
      },
    );
  });
});

describe('loadJobsFile', () => {
  let dir = '';
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'jobs-file-test-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads and validates a valid file', () => {
    const path = file(
      'valid.yaml',
      `# comment
jobs:
  nightly-train:                      # name
    schedule: "0 3 ? * * *"
    concurrency: skip
    run:
      projectId: bt1abcdefghijklmnopq
      notebookId: notebooks/train.ipynb
      inputVariables: { MODE: full, EPOCHS: 3, DRY: false }
  weekday-report:
    schedule: '30 6 ? * MON-FRI'
    run: { projectId: bt1abcdefghijklmnopq, notebookId: report.ipynb, timeoutSeconds: 3600 }
`,
    );
    assert.deepEqual(loadJobsFile(path, deps), [
      {
        name: 'nightly-train',
        schedule: '0 3 ? * * *',
        concurrency: 'skip',
        run: {
          projectId: 'bt1abcdefghijklmnopq',
          notebookId: 'notebooks/train.ipynb',
          inputVariables: { MODE: 'full', EPOCHS: 3, DRY: false },
        },
      },
      {
        name: 'weekday-report',
        schedule: '30 6 ? * MON-FRI',
        concurrency: 'skip',
        run: { projectId: 'bt1abcdefghijklmnopq', notebookId: 'report.ipynb', timeoutSeconds: 3600 },
      },
    ]);
  });

  it('answers no jobs for a missing file', () => {
    assert.deepEqual(loadJobsFile(join(dir, 'absent.yaml'), deps), []);
  });

  it('fails for a missing file that was named explicitly', () => {
    const path = join(dir, 'named.yaml');
    assert.throws(
      () => loadJobsFile(path, deps, { mustExist: true }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^.*named\.yaml: cannot read the jobs file: ENOENT/);
        return true;
      },
    );
  });

  it('answers no jobs for an empty file or a file of comments', () => {
    assert.deepEqual(loadJobsFile(file('empty.yaml', ''), deps), []);
    assert.deepEqual(loadJobsFile(file('comments.yaml', '# nothing yet\njobs: {}\n'), deps), []);
  });

  it('rejects duplicate job names (duplicate YAML keys)', () => {
    const path = file(
      'duplicate.yaml',
      `jobs:
  a: { schedule: "0 3 ? * *", run: { projectId: p, notebookId: n } }
  a: { schedule: "0 4 ? * *", run: { projectId: p, notebookId: n } }
`,
    );
    assert.throws(
      () => loadJobsFile(path, deps),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.message.startsWith(`${path}: invalid YAML: `), error.message);
        assert.match(error.message, /unique/i);
        assert.match(error.message, /line 3/);
        return true;
      },
    );
  });

  it('rejects a YAML syntax error with its line, e.g. an unquoted "*" schedule', () => {
    const path = file('syntax.yaml', 'jobs:\n  a:\n    schedule: * * * * ? *\n    run: {}\n');
    assert.throws(
      () => loadJobsFile(path, deps),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.message.startsWith(`${path}: invalid YAML: `), error.message);
        assert.match(error.message, /line 3/);
        return true;
      },
    );
  });

  it('rejects a file with several YAML documents', () => {
    const path = file('two.yaml', 'jobs: {}\n---\njobs: {}\n');
    assert.throws(() => loadJobsFile(path, deps), /invalid YAML/);
  });

  it('names the job for a bad job in a file', () => {
    const path = file(
      'bad.yaml',
      'jobs:\n  broken:\n    schedule: "0 3 ? * ? *"\n    run: { projectId: p, notebookId: n }\n',
    );
    failsWith(
      () => loadJobsFile(path, deps),
      'jobs.broken.schedule: "0 3 ? * ? *": only one of day-of-month and day-of-week may be "?"',
    );
  });

  it('reads numeric-looking job names as names', () => {
    assert.deepEqual(parseJobsYaml('jobs:\n  2024: { schedule: "0 3 ? * *" }\n'), {
      jobs: { '2024': { schedule: '0 3 ? * *' } },
    });
  });

  it('loads the repository jobs.yaml and jobs.example.yaml', () => {
    const root = join(import.meta.dirname, '..', '..');
    assert.deepEqual(loadJobsFile(join(root, 'jobs.yaml'), deps, { mustExist: true }), []);
    const examples = loadJobsFile(join(root, 'jobs.example.yaml'), deps, { mustExist: true });
    assert.ok(examples.length >= 3);
    for (const job of examples) assert.match(job.name, /^[A-Za-z0-9_-]{1,64}$/);
  });
});

describe('locateJobsFile', () => {
  it('uses jobs.yaml at the root when JOBS_FILE is not set, and a missing one is fine', () => {
    assert.deepEqual(locateJobsFile('/repo', {}), { path: '/repo/jobs.yaml', mustExist: false });
    assert.deepEqual(locateJobsFile('/repo', { JOBS_FILE: ' ' }), {
      path: '/repo/jobs.yaml',
      mustExist: false,
    });
  });

  it('uses JOBS_FILE, relative to the root or absolute, and requires it to exist', () => {
    assert.deepEqual(locateJobsFile('/repo', { JOBS_FILE: 'deploy/prod-jobs.yaml' }), {
      path: '/repo/deploy/prod-jobs.yaml',
      mustExist: true,
    });
    assert.deepEqual(locateJobsFile('/repo', { JOBS_FILE: '/etc/jobs.yaml' }), {
      path: '/etc/jobs.yaml',
      mustExist: true,
    });
  });
});
