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

/**
 * `skip`: do not start while the job's previous run is still running; `allow`: start anyway; `queue`:
 * wait (QUEUED) until it ends; `replace`: cancel it and start once its operation is done.
 */
export const JOB_CONCURRENCY = ['skip', 'allow', 'queue', 'replace'] as const;
export type JobConcurrency = (typeof JOB_CONCURRENCY)[number];

/** When a chained job starts: after its upstream's run ends SUCCEEDED, FAILED/TIMED_OUT, or in any way. */
export const CHAIN_CONDITIONS = ['success', 'failure', 'always'] as const;
export type ChainCondition = (typeof CHAIN_CONDITIONS)[number];

/** `after` of a job: start it when a run of job `job` ends as `on` says (job chains). */
export interface JobTrigger {
  readonly job: string;
  readonly on: ChainCondition;
}

/**
 * Input variables every chained run gets from its upstream run (so a notebook can read them as
 * environment variables): its runId, final status, job name and, when it has one, its `result` as JSON.
 * A chained job's own `run.inputVariables` may not use these names.
 */
export const UPSTREAM_VARIABLES = [
  'UPSTREAM_RUN_ID',
  'UPSTREAM_STATUS',
  'UPSTREAM_JOB',
  'UPSTREAM_RESULT',
] as const;

/** Most input variables a run request has (shared/triggers/size-limits.ts): room is left for UPSTREAM_VARIABLES. */
const MAX_VARIABLES = 100;

/** Job names: letters, digits, `-` and `_`, 1 to 64 characters (they go into dedupe keys). */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** One validated job. `R` is the run request type (`RunRequest` in the core). */
export interface JobDefinition<R = unknown> {
  readonly name: string;
  /** Yandex cron expression, UTC (see `yandex-cron.ts`); absent for a job that only runs `after` another. */
  readonly schedule?: string;
  /** Start this job when a run of another job ends (job chains); with or without a schedule. */
  readonly after?: JobTrigger;
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
const JOB_KEYS: readonly string[] = ['schedule', 'after', 'concurrency', 'run'];
const AFTER_KEYS: readonly string[] = ['job', 'on'];
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
  // Chains are checked once every job is known: unknown upstream names, then cycles.
  if (problems.length === 0) problems.push(...chainProblems(jobs));
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
      `must be a mapping with "schedule" and/or "after", "run" and optional "concurrency", got ${describe(job)}`,
    );
  }
  for (const key of Object.keys(job)) {
    if (!JOB_KEYS.includes(key)) {
      throw new ConfigError(`${at}.${key}`, `unknown key (allowed: ${JOB_KEYS.join(', ')})`);
    }
  }

  const { schedule, after, concurrency = 'skip', run } = job;
  if (schedule === undefined && after === undefined) {
    throw new ConfigError(
      `${at}.schedule`,
      'required (or "after", to run the job when another job\'s run ends)',
    );
  }
  if (schedule !== undefined) {
    if (typeof schedule !== 'string') {
      throw new ConfigError(
        `${at}.schedule`,
        `must be a string (quote it in YAML), got ${describe(schedule)}`,
      );
    }
    parseYandexCron(schedule, `${at}.schedule`);
  }
  const trigger = after === undefined ? undefined : validateAfter(after, `${at}.after`);

  if (!(JOB_CONCURRENCY as readonly unknown[]).includes(concurrency)) {
    throw new ConfigError(
      `${at}.concurrency`,
      `must be one of ${JOB_CONCURRENCY.map((c) => `"${c}"`).join(', ')}, got ${describe(concurrency)}`,
    );
  }

  if (run === undefined) throw new ConfigError(`${at}.run`, 'required');
  if (isPlainObject(run)) {
    for (const key of Object.keys(RUN_KEYS_NOT_ALLOWED)) {
      if (Object.hasOwn(run, key))
        throw new ConfigError(`${at}.run.${key}`, RUN_KEYS_NOT_ALLOWED[key] ?? 'not allowed');
    }
  }
  if (trigger !== undefined && isPlainObject(run) && isPlainObject(run.inputVariables)) {
    const variables = Object.keys(run.inputVariables);
    for (const reserved of UPSTREAM_VARIABLES) {
      if (variables.includes(reserved)) {
        throw new ConfigError(
          `${at}.run.inputVariables.${reserved}`,
          'is set for a chained job from its upstream run; choose another name',
        );
      }
    }
    if (variables.length > MAX_VARIABLES - UPSTREAM_VARIABLES.length) {
      throw new ConfigError(
        `${at}.run.inputVariables`,
        `a chained job may have at most ${MAX_VARIABLES - UPSTREAM_VARIABLES.length} variables (the upstream's ${UPSTREAM_VARIABLES.length} are added), got ${variables.length}`,
      );
    }
  }
  let request: R;
  try {
    request = deps.parseRunRequest(run, `${at}.run`);
  } catch (error) {
    throw asConfigError(error, `${at}.run`);
  }

  return {
    name,
    ...(typeof schedule === 'string' ? { schedule: schedule.trim() } : {}),
    ...(trigger === undefined ? {} : { after: trigger }),
    concurrency: concurrency as JobConcurrency,
    run: request,
  };
}

function validateAfter(after: unknown, at: string): JobTrigger {
  if (!isPlainObject(after)) {
    throw new ConfigError(at, `must be a mapping like {job: <name>, on: success}, got ${describe(after)}`);
  }
  for (const key of Object.keys(after)) {
    if (!AFTER_KEYS.includes(key)) {
      throw new ConfigError(`${at}.${key}`, `unknown key (allowed: ${AFTER_KEYS.join(', ')})`);
    }
  }
  const { job, on = 'success' } = after;
  if (job === undefined) throw new ConfigError(`${at}.job`, 'required: the name of the upstream job');
  if (typeof job !== 'string' || !JOB_NAME_PATTERN.test(job)) {
    throw new ConfigError(`${at}.job`, `must be a job name, got ${describe(job)}`);
  }
  if (!(CHAIN_CONDITIONS as readonly unknown[]).includes(on)) {
    throw new ConfigError(
      `${at}.on`,
      `must be one of ${CHAIN_CONDITIONS.map((c) => `"${c}"`).join(', ')}, got ${describe(on)}`,
    );
  }
  return { job, on: on as ChainCondition };
}

/**
 * Every `after` names a job of the file, and following `after` from any job never comes back to it.
 * Each job has at most one upstream, so a cycle is found by walking up; each is reported once, naming
 * its jobs in order.
 */
function chainProblems(jobs: readonly JobDefinition<unknown>[]): ConfigError[] {
  const problems: ConfigError[] = [];
  const byName = new Map(jobs.map((job) => [job.name, job]));
  for (const job of jobs) {
    if (job.after !== undefined && !byName.has(job.after.job)) {
      problems.push(
        new ConfigError(
          `jobs.${job.name}.after.job`,
          `no job named "${job.after.job}" in the jobs file (jobs: ${[...byName.keys()].join(', ')})`,
        ),
      );
    }
  }
  if (problems.length > 0) return problems;
  const reported = new Set<string>();
  for (const job of jobs) {
    const path: string[] = [];
    let current: JobDefinition<unknown> | undefined = job;
    while (current !== undefined && !path.includes(current.name)) {
      path.push(current.name);
      current = current.after === undefined ? undefined : byName.get(current.after.job);
    }
    if (current === undefined) continue;
    const cycle = path.slice(path.indexOf(current.name));
    const key = [...cycle].sort().join(' ');
    if (reported.has(key)) continue;
    reported.add(key);
    problems.push(
      new ConfigError(
        `jobs.${cycle[0]}.after`,
        `jobs ${cycle.join(', ')} form a cycle (${cycle
          .map((name, i) => `${name} runs after ${cycle[(i + 1) % cycle.length]}`)
          .join(', ')}): they would start each other for ever`,
      ),
    );
  }
  return problems;
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
