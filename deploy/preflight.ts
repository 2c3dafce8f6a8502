/**
 * Checks made before anything is sent to the cloud: every problem found here would otherwise show
 * up only as a log line of a deploy that still exits 0, or as a function that fails at cold start.
 */
import { loadConfig } from '../shared/config.ts';
import { isRunnerError } from '../shared/errors.ts';
import type { ExpectedTrigger } from './deployment-model.ts';
import { LOCKBOX_PLACEHOLDER } from './serverless-config.ts';
import type { ZipEntry } from './zip-entries.ts';

/** Bigger zips go through an Object Storage bucket and need static keys (platform.md §9, trap 9). */
export const DIRECT_UPLOAD_LIMIT_BYTES = 3.5 * 1024 * 1024;
/** Total size of a version's environment, names included (platform.md §5). */
export const ENVIRONMENT_LIMIT_BYTES = 4096;
/** What the trigger API takes as a queue id: the queue's ARN. */
export const QUEUE_ARN_PATTERN = /^yrn:yc:ymq:ru-central1:[a-z0-9]+:[A-Za-z0-9_-]{1,80}$/;

/** The one file each artifact must hold, at the zip root (entry point `index.handler`). */
export const BUNDLE_ENTRY = 'index.js';

/**
 * Problems with one function's artifact: it must hold `index.js` at its root and nothing else
 * (no package.json, which would make the platform run `npm ci`; no node_modules; no source maps).
 */
export function checkArtifact(path: string, zipSize: number, entries: readonly ZipEntry[]): string[] {
  const problems: string[] = [];
  const names = entries.map((e) => e.name).filter((name) => !name.endsWith('/'));
  if (!names.includes(BUNDLE_ENTRY)) {
    problems.push(`${path}: has no ${BUNDLE_ENTRY} at its root (the entry point is index.handler)`);
  }
  for (const name of names) {
    if (name === BUNDLE_ENTRY) continue;
    if (name === 'package.json' || name.endsWith('/package.json')) {
      problems.push(`${path}: holds ${name}; the platform would run npm ci while building the version`);
    } else if (name.startsWith('node_modules/') || name.includes('/node_modules/')) {
      problems.push(`${path}: holds ${name}; the bundle must be self-contained`);
    } else {
      problems.push(`${path}: holds ${name}; only ${BUNDLE_ENTRY} belongs in a function's artifact`);
    }
  }
  if (zipSize >= DIRECT_UPLOAD_LIMIT_BYTES) {
    problems.push(
      `${path}: ${zipSize} bytes is over the 3.5 MB direct-upload limit; the plugin would need a bucket and static keys`,
    );
  }
  return problems;
}

/** Problems with one function's resolved environment: size, and the product's own validation. */
export function checkFunctionEnvironment(
  functionKey: string,
  environment: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  const where = `functions.${functionKey}.environment`;
  const bytes = Object.entries(environment).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
  if (bytes > ENVIRONMENT_LIMIT_BYTES) {
    problems.push(
      `${where}: ${bytes} bytes of names and values, over the platform's ${ENVIRONMENT_LIMIT_BYTES}`,
    );
  }
  // Validate with the product's own loader, as the function will at cold start in the cloud
  // (`_HANDLER` marks the process as running inside Cloud Functions, so `file:` stores are refused).
  const asDeployed: Record<string, string> = { _HANDLER: 'index.handler' };
  for (const [name, value] of Object.entries(environment)) {
    asDeployed[name] = value === LOCKBOX_PLACEHOLDER ? 'lockbox-placeholder' : value;
  }
  try {
    loadConfig(asDeployed, { cwd: '/function/code' });
  } catch (error) {
    if (!isRunnerError(error)) throw error;
    problems.push(`${where}: ${error.message}`);
  }
  return problems;
}

/** Problems with the queue ids the triggers will read. */
export function checkTriggers(triggers: readonly ExpectedTrigger[]): string[] {
  return triggers.flatMap((t) =>
    t.type === 'ymq' && !QUEUE_ARN_PATTERN.test(t.queueId)
      ? [
          `trigger ${t.name}: queue "${t.queueId}" is not a queue ARN (yrn:yc:ymq:ru-central1:<folder-id>:<queue-name>)`,
        ]
      : [],
  );
}
