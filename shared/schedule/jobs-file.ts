/**
 * Scheduled jobs, as declared in the jobs file (`jobs.yaml`), validated at build time and embedded
 * into the execute bundle. The Serverless plugin cannot give a timer a payload (platform.md §9), so
 * one per-minute tick reads these definitions instead.
 *
 * The run request's own validator lives in `shared/triggers`, which this layer may not import, so
 * it is a parameter; the run type `R` is whatever that validator returns.
 */
import { ConfigError, isRunnerError } from '../errors.ts';
import { parseYandexCron } from './yandex-cron.ts';

/** `skip`: do not start while the job's previous run is still running; `allow`: start anyway. */
export const JOB_CONCURRENCY = ['skip', 'allow'] as const;
export type JobConcurrency = (typeof JOB_CONCURRENCY)[number];

/** Job names: letters, digits, `-` and `_`, 1 to 64 characters (they go into dedupe keys). */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** One validated job. `R` is the run request type (`RunRequest` in the core). */
export interface JobDefinition<R = unknown> {
  readonly name: string;
  /** Yandex cron expression, UTC (see `yandex-cron.ts`). */
  readonly schedule: string;
  readonly concurrency: JobConcurrency;
  readonly run: R;
}

export interface JobsValidationDeps<R> {
  /**
   * The run request validator (design.md §4): returns the typed request or throws an
   * InvalidRequestError whose field starts with `fieldPrefix` (e.g. `jobs.nightly-train.run`).
   */
  readonly parseRunRequest: (value: unknown, fieldPrefix: string) => R;
}

const TOP_LEVEL_KEYS: readonly string[] = ['jobs'];
const JOB_KEYS: readonly string[] = ['schedule', 'concurrency', 'run'];
/** Run request fields a job may not set, and why. */
const RUN_KEYS_NOT_ALLOWED: Readonly<Record<string, string>> = {
  concurrency: 'not allowed in a job\'s run; set "concurrency" on the job itself',
  idempotencyKey: "not allowed in a job's run; each (job, scheduled minute) starts at most once by itself",
};

/**
 * Validates a parsed jobs file (`{ jobs: { <name>: { schedule, concurrency?, run } } }`; an empty
 * document or an empty `jobs` means no jobs) and returns the jobs in file order.
 *
 * @throws ConfigError naming the job and the problem, e.g.
 *   `jobs.nightly-train.schedule: "0 3 * * * *": one of day-of-month and day-of-week must be "?"`.
 *   Every job is checked; when several are bad, the message has one line per problem (the first
 *   problem of each job) and `details.problems` lists them.
 */
export function validateJobs<R>(doc: unknown, deps: JobsValidationDeps<R>): JobDefinition<R>[] {
  const problems: ConfigError[] = [];
  const jobs: JobDefinition<R>[] = [];
  if (doc === null || doc === undefined) return jobs;
  if (!isPlainObject(doc)) {
    throw new ConfigError('jobs file', `must be a mapping with a "jobs" key, got ${describe(doc)}`);
  }
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      problems.push(new ConfigError(key, 'unknown key; the jobs file has only "jobs"'));
    }
  }
  const declared = doc.jobs;
  if (declared !== null && declared !== undefined) {
    if (!isPlainObject(declared)) {
      problems.push(
        new ConfigError('jobs', `must be a mapping of job name to job, got ${describe(declared)}`),
      );
    } else {
      for (const [name, job] of Object.entries(declared)) {
        try {
          jobs.push(validateJob(name, job, deps));
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          problems.push(error);
        }
      }
    }
  }
  const [first, ...more] = problems;
  if (first === undefined) return jobs;
  if (more.length === 0) throw first;
  throw new ConfigError(first.setting, [problemOf(first), ...more.map((p) => p.message)].join('\n'), {
    details: { problems: problems.map((p) => p.message) },
  });
}

function validateJob<R>(name: string, job: unknown, deps: JobsValidationDeps<R>): JobDefinition<R> {
  const at = `jobs.${JOB_NAME_PATTERN.test(name) ? name : JSON.stringify(name)}`;
  if (!JOB_NAME_PATTERN.test(name)) {
    throw new ConfigError(at, 'job names are 1 to 64 letters, digits, "-" or "_"');
  }
  if (!isPlainObject(job)) {
    throw new ConfigError(
      at,
      `must be a mapping with "schedule", "run" and optional "concurrency", got ${describe(job)}`,
    );
  }
  for (const key of Object.keys(job)) {
    if (!JOB_KEYS.includes(key)) {
      throw new ConfigError(`${at}.${key}`, `unknown key (allowed: ${JOB_KEYS.join(', ')})`);
    }
  }

  const { schedule, concurrency = 'skip', run } = job;
  if (schedule === undefined) throw new ConfigError(`${at}.schedule`, 'required');
  if (typeof schedule !== 'string') {
    throw new ConfigError(`${at}.schedule`, `must be a string (quote it in YAML), got ${describe(schedule)}`);
  }
  parseYandexCron(schedule, `${at}.schedule`);

  if (!(JOB_CONCURRENCY as readonly unknown[]).includes(concurrency)) {
    throw new ConfigError(`${at}.concurrency`, `must be "skip" or "allow", got ${describe(concurrency)}`);
  }

  if (run === undefined) throw new ConfigError(`${at}.run`, 'required');
  if (isPlainObject(run)) {
    for (const key of Object.keys(RUN_KEYS_NOT_ALLOWED)) {
      if (Object.hasOwn(run, key))
        throw new ConfigError(`${at}.run.${key}`, RUN_KEYS_NOT_ALLOWED[key] ?? 'not allowed');
    }
  }
  let request: R;
  try {
    request = deps.parseRunRequest(run, `${at}.run`);
  } catch (error) {
    throw asConfigError(error, `${at}.run`);
  }

  return { name, schedule: schedule.trim(), concurrency: concurrency as JobConcurrency, run: request };
}

/** The run validator speaks InvalidRequestError (`<field>: <problem>`); a build speaks ConfigError. */
function asConfigError(error: unknown, prefix: string): unknown {
  if (error instanceof ConfigError) return error;
  if (!isRunnerError(error) || error.code !== 'INVALID_REQUEST') return error;
  const field = typeof error.details?.field === 'string' ? error.details.field : '';
  const problem =
    field && error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
  const setting = field === '' ? prefix : field.startsWith(prefix) ? field : `${prefix}.${field}`;
  return new ConfigError(setting, problem, { cause: error });
}

function problemOf(error: ConfigError): string {
  const prefix = `${error.setting}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}
