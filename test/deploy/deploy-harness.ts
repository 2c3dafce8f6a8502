/**
 * Runs the deploy in process against the local fake: the real steps, REST client, Message Queue
 * client (SigV4) and Document API table code, with the stand-in for the Serverless plugin and a
 * sleep that returns at once.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { createCloudHttp } from '../../deploy/cloud-http.ts';
import type { DeployContext } from '../../deploy/deploy-context.ts';
import type { StagePlan } from '../../deploy/deploy-stage.ts';
import { docApiTables } from '../../deploy/docapi-tables.ts';
import { PENDING_RUN_STORE, readDeploySettings } from '../../deploy/preflight.ts';
import { functionSpecs, loadServerlessConfig, serviceName } from '../../deploy/serverless-config.ts';
import { stageNames } from '../../deploy/stage-names.ts';
import { endpointsAt } from '../../deploy/yandex-endpoints.ts';
import { createYmqAdmin } from '../../deploy/ymq-admin.ts';
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

export function artifacts(version: string): Record<string, Buffer> {
  return Object.fromEntries(
    ['execute', 'check', 'cancel'].map((key) => [
      key,
      makeZip({ 'index.js': `exports.handler=()=>'${key} ${version}';` }),
    ]),
  );
}

export interface StageRun {
  readonly ctx: DeployContext;
  readonly plan: StagePlan;
  readonly plugin: ReturnType<typeof fakePluginRunner>;
  readonly log: string[];
  close(): Promise<void>;
}

export interface StageRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly code?: string;
  readonly gateway?: boolean;
  readonly pluginFailsFor?: readonly string[];
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
  const http = createCloudHttp({ token: TOKEN, dispatcher });
  const ctx: DeployContext = {
    http,
    endpoints,
    wait: { operationEndpoint: endpoints.operation, sleep },
    folderId: FOLDER,
    cloudId: CLOUD,
    names: stageNames(serviceName(config), stage),
    log: (line) => log.push(line),
    sleep,
    now: Date.now,
    ymq: (keys, fresh) =>
      createYmqAdmin({
        endpoint: endpoints.messageQueue,
        keys,
        dispatcher,
        sleep,
        attemptsForNewKey: fresh ? 3 : 1,
      }),
    tables: docApiTables(TOKEN, dispatcher),
    plugin,
  };
  const specs = (runStore: string) =>
    functionSpecs(config, { env: { ...env, RUN_STORE: runStore }, options: { stage } });
  const { settings, problems } = readDeploySettings(env, specs(PENDING_RUN_STORE));
  if (problems.length > 0) throw new Error(problems.join('; '));
  const plan: StagePlan = {
    settings,
    specs,
    artifactSha256: Object.fromEntries(
      Object.entries(zips).map(([key, zip]) => [key, createHash('sha256').update(zip).digest('hex')]),
    ),
    pluginEnv: (runStore) => ({ RUN_STORE: runStore, ALLOWED_PROJECTS: env.ALLOWED_PROJECTS ?? '' }),
    gatewaySpecText: options.gateway
      ? readFileSync(join(root, 'api-gateway', 'openapi.yaml'), 'utf8')
      : undefined,
  };
  return { ctx, plan, plugin, log, close: () => dispatcher.close() };
}

/** Labels of the calls made since `from` (index into fake.calls), optionally only mutating ones. */
export function labels(fake: FakeYandexCloud, from = 0, mutatingOnly = false): string[] {
  return fake.calls
    .slice(from)
    .filter((c) => !mutatingOnly || c.mutating)
    .map((c) => c.label);
}
