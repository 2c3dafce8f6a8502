/**
 * Runs the deploy in process against the local fake: the real steps, REST client, Message Queue
 * client (SigV4), Document API table code and Monitoring script, with the stand-in for the
 * Serverless plugin and a sleep that returns at once. The functions' code is the real build (so the
 * fake's gateway runs the real handlers), marked per "code version" to make distinct uploads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { DeployContext } from '../../deploy/deploy-context.ts';
import { deployStage, type StagePlan } from '../../deploy/deploy-stage.ts';
import { decidedEnv, deployContext, stagePlan } from '../../deploy/deploy-wiring.ts';
import { ensureMonitoring } from '../../deploy/ensure-monitoring.ts';
import { PENDING_RUN_STORE, readDeploySettings } from '../../deploy/preflight.ts';
import { functionSpecs, loadServerlessConfig, serviceName } from '../../deploy/serverless-config.ts';
import type { ApiKeysPlan, MintedKey } from '../../deploy/stage-api-keys.ts';
import { stageNames } from '../../deploy/stage-names.ts';
import { verifyStage } from '../../deploy/verify-stage.ts';
import { endpointsAt } from '../../deploy/yandex-endpoints.ts';
import { fakePluginRunner } from './fake-serverless-plugin.ts';
import { type FakeYandexCloud, startFakeYandexCloud } from './fake-yandex-cloud.ts';
import { makeZip } from './zip-fixture.ts';

export const TOKEN = 't1.fake-deployer-token-for-tests';
export const FOLDER = 'b1gfakefolder0000000';
export const CLOUD = 'b1gfakecloud00000000';
export const PROJECT = 'bt1fakeproject000001';

const root = join(import.meta.dirname, '..', '..');
const config = loadServerlessConfig(join(root, 'serverless.yaml'));

export const BASE_ENV: Readonly<Record<string, string>> = { ALLOWED_PROJECTS: PROJECT };

export function startCloud(options: { deployerIsProjectAdmin?: boolean } = {}): Promise<FakeYandexCloud> {
  return startFakeYandexCloud({
    token: TOKEN,
    folderId: FOLDER,
    cloudId: CLOUD,
    projects: [PROJECT, 'bt1fakeproject000002'],
    ...options,
  });
}

let builtDir: string | undefined;
/** The real bundles, built once per test process (about a second and a half). */
function builtBundle(key: string): string {
  if (builtDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-harness-build-'));
    const built = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(join(root, 'build.mjs'))}).then((m) => m.build({ outDir: ${JSON.stringify(dir)}, quiet: true }))`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    if (built.status !== 0 || !existsSync(join(dir, 'check', 'index.js')))
      throw new Error(`build failed: ${built.stderr}`);
    builtDir = dir;
  }
  return readFileSync(join(builtDir, key, 'index.js'), 'utf8');
}

/** Each function's zip: the real bundle, marked with `version` so that versions differ. */
export function artifacts(version: string): Record<string, Buffer> {
  return Object.fromEntries(
    ['execute', 'check', 'cancel'].map((key) => [
      key,
      makeZip({ 'index.js': `${builtBundle(key)}\n// test code ${version}\n` }),
    ]),
  );
}

export interface StageRun {
  readonly ctx: DeployContext;
  readonly plan: StagePlan;
  readonly plugin: ReturnType<typeof fakePluginRunner>;
  readonly log: string[];
  /** Keys the run minted (what the deploy prints once). */
  readonly minted: MintedKey[];
  close(): Promise<void>;
}

export interface StageRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly code?: string;
  readonly gateway?: boolean;
  readonly pluginFailsFor?: readonly string[];
  readonly apiKeys?: Omit<ApiKeysPlan, 'given'>;
}

export function stageRun(fake: FakeYandexCloud, stage: string, options: StageRunOptions = {}): StageRun {
  const env = { ...BASE_ENV, ...options.env };
  const zips = artifacts(options.code ?? 'v1');
  const dispatcher = new Agent({ connections: 4 });
  const endpoints = endpointsAt(fake.url);
  const log: string[] = [];
  const sleep = async (): Promise<void> => {};
  const plugin = fakePluginRunner({
    base: fake.url,
    token: TOKEN,
    folderId: FOLDER,
    artifacts: zips,
    baseEnv: env,
    failFor: () => options.pluginFailsFor ?? [],
  });
  const ctx = deployContext({
    token: TOKEN,
    folderId: FOLDER,
    cloudId: CLOUD,
    endpoints,
    names: stageNames(serviceName(config), stage),
    dispatcher,
    plugin,
    log: (line) => log.push(line),
    sleep,
    freshKeyAttempts: 3,
  });
  const metricsOn = (env.METRICS ?? 'on') !== 'off';
  const { settings, problems } = readDeploySettings(
    env,
    functionSpecs(config, {
      env: { ...env, ...decidedEnv(PENDING_RUN_STORE, FOLDER, metricsOn) },
      options: { stage },
    }),
  );
  if (problems.length > 0) throw new Error(problems.join('; '));
  const plan: StagePlan = {
    ...stagePlan({
      config,
      env,
      stage,
      folderId: FOLDER,
      settings,
      artifactSha256: Object.fromEntries(
        Object.entries(zips).map(([key, zip]) => [key, createHash('sha256').update(zip).digest('hex')]),
      ),
      gatewaySpecText: readFileSync(join(root, 'api-gateway', 'openapi.yaml'), 'utf8'),
    }),
    gateway: options.gateway === true,
    apiKeys: options.apiKeys,
    onKeyMinted: (key) => minted.push(key),
  };
  const minted: MintedKey[] = [];
  return { ctx, plan, plugin, log, minted, close: () => dispatcher.close() };
}

/** Labels of the calls made since `from` (index into fake.calls), optionally only mutating ones. */
export function labels(fake: FakeYandexCloud, from = 0, mutatingOnly = false): string[] {
  return fake.calls
    .slice(from)
    .filter((c) => !mutatingOnly || c.mutating)
    .map((c) => c.label);
}

/**
 * What `npm run deploy` does after its checks, in order: deploy the stage, verify it (asserted
 * healthy), then the dashboard and alerts. Returns the verification's and the monitoring step's notes.
 */
export async function fullDeploy(run: StageRun): Promise<{ notes: readonly string[] }> {
  await deployStage(run.ctx, run.plan);
  assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
  const monitoring = await ensureMonitoring(run.ctx, run.plan.settings);
  return { notes: monitoring.notes };
}

/** Asks the fake's gateway of `domain` as a caller would (no credential unless given; POST with `post`). */
export async function callGateway(
  fake: FakeYandexCloud,
  domain: string,
  path: string,
  headers: Record<string, string> = {},
  post?: unknown,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const answer = await request(`${fake.url}/_apigw/${domain}${path}`, {
    headers: post === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(post === undefined ? {} : { method: 'POST' as const, body: JSON.stringify(post) }),
  });
  return { status: answer.statusCode, body: await answer.body.text(), headers: answer.headers };
}
