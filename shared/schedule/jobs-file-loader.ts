/**
 * Build-time loading of the jobs file. Used by `build.mjs` and tests only: it imports `yaml` (a
 * devDependency) and `node:fs`, so no bundle may import this file. The bundles get the validated
 * jobs as JSON through esbuild `define` (see `embedded-jobs.ts`).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import { type JobDefinition, type JobsValidationDeps, validateJobs } from './jobs-file.ts';

/** The jobs file to load: `JOBS_FILE` (relative to `rootDir`) or `<rootDir>/jobs.yaml`. */
export interface JobsFileLocation {
  readonly path: string;
  /** True when named by `JOBS_FILE`: a file someone asked for by name must exist. */
  readonly mustExist: boolean;
}

/** Where the jobs file is for a build in `rootDir` with environment `env`. */
export function locateJobsFile(
  rootDir: string,
  env: Readonly<Record<string, string | undefined>>,
): JobsFileLocation {
  const named = env.JOBS_FILE?.trim();
  if (named) return { path: isAbsolute(named) ? named : resolve(rootDir, named), mustExist: true };
  return { path: join(rootDir, 'jobs.yaml'), mustExist: false };
}

/**
 * Reads, parses and validates a jobs file. A missing file means no jobs (unless `mustExist`).
 *
 * @throws ConfigError for a YAML error (named by path, with line and column; duplicate keys are
 *   errors) or an invalid job (named by job, see `validateJobs`).
 */
export function loadJobsFile<R>(
  path: string,
  deps: JobsValidationDeps<R>,
  options: { readonly mustExist?: boolean } = {},
): JobDefinition<R>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && options.mustExist !== true) return [];
    throw new ConfigError(path, `cannot read the jobs file: ${(error as Error).message}`, { cause: error });
  }
  return validateJobs(parseJobsYaml(text, path), deps);
}

/** Parses jobs-file YAML strictly: YAML 1.2 core schema, unique string keys, errors and warnings fatal. */
export function parseJobsYaml(text: string, source = 'jobs file'): unknown {
  const doc = parseDocument(text, {
    version: '1.2',
    uniqueKeys: true,
    stringKeys: true,
    strict: true,
    prettyErrors: true,
    // Plain JSON-like data only: `!!binary`, `!!set` and the like are errors, not Buffers or Sets.
    resolveKnownTags: false,
  });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new ConfigError(source, `invalid YAML: ${problem.message}`);
  return doc.toJS({ maxAliasCount: 100 });
}
