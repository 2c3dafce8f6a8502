/**
 * How `npm run deploy` puts its steps together once its checks passed: the DeployContext (REST,
 * Message Queue, Document API and Monitoring clients on one dispatcher) and the stage plan (the
 * functions resolved against the database and folder the deploy decides). The tests' harness builds
 * its runs with the same two functions, giving only the fake's address, a stand-in plugin and an
 * instant sleep.
 */
import { type Dispatcher, request } from 'undici';
import { createCloudHttp } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';
import type { StagePlan } from './deploy-stage.ts';
import { docApiTables } from './docapi-tables.ts';
import { applyMonitoring } from './monitoring/apply-monitoring.ts';
import type { PluginRunner } from './plugin-runner.ts';
import type { DeploySettings } from './preflight.ts';
import { functionSpecs } from './serverless-config.ts';
import type { StageNames } from './stage-names.ts';
import type { YandexEndpoints } from './yandex-endpoints.ts';
import { createYmqAdmin } from './ymq-admin.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface DeployWiring {
  readonly token: string;
  readonly folderId: string;
  readonly cloudId: string;
  readonly endpoints: YandexEndpoints;
  readonly names: StageNames;
  /** Shared by every client; the caller closes it. */
  readonly dispatcher: Dispatcher;
  readonly plugin: PluginRunner;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** Tries per Message Queue call while a just-created static key is not yet accepted. @default 8 */
  readonly freshKeyAttempts?: number;
}

export function deployContext(wiring: DeployWiring): DeployContext {
  const { token, endpoints, dispatcher, sleep } = wiring;
  return {
    http: createCloudHttp({ token, dispatcher }),
    endpoints,
    wait: { operationEndpoint: endpoints.operation, sleep },
    folderId: wiring.folderId,
    cloudId: wiring.cloudId,
    names: wiring.names,
    log: wiring.log,
    sleep,
    now: Date.now,
    ymq: (keys, fresh) =>
      createYmqAdmin({
        endpoint: endpoints.messageQueue,
        keys,
        dispatcher,
        sleep,
        attemptsForNewKey: fresh ? (wiring.freshKeyAttempts ?? 8) : 1,
      }),
    tables: docApiTables(token, dispatcher),
    plugin: wiring.plugin,
    monitoring: (options) =>
      applyMonitoring({ ...options, token, endpoint: endpoints.monitoring, dispatcher }),
    publicGet: async (url) => {
      const answer = await request(url, { dispatcher, headersTimeout: 15_000, bodyTimeout: 15_000 });
      return {
        status: answer.statusCode,
        contentType: String(answer.headers['content-type'] ?? ''),
        body: await answer.body.text(),
      };
    },
  };
}

/** What the deploy decides itself: the stage's database and, with metrics on, its own folder. */
export function decidedEnv(runStore: string, folderId: string, metrics: boolean): Record<string, string> {
  return { RUN_STORE: runStore, METRICS_FOLDER_ID: metrics ? folderId : '' };
}

export interface StagePlanInput {
  readonly config: Record<string, unknown>;
  readonly env: Env;
  readonly stage: string;
  readonly folderId: string;
  readonly settings: DeploySettings;
  readonly artifactSha256: Readonly<Record<string, string>>;
  readonly gatewaySpecText: string | undefined;
}

/** The plan's part fixed by serverless.yaml and the environment (the run's options come on top). */
export function stagePlan(input: StagePlanInput): StagePlan {
  const { config, env, stage, folderId, settings } = input;
  return {
    settings,
    specs: (runStore) =>
      functionSpecs(config, {
        env: { ...env, ...decidedEnv(runStore, folderId, settings.metrics) },
        options: { stage },
      }),
    artifactSha256: input.artifactSha256,
    // serverless.yaml reads these through ${env:…}; the deployer's shell lacks what the deploy decides.
    pluginEnv: (runStore) => ({
      ...decidedEnv(runStore, folderId, settings.metrics),
      ...(env.ALLOWED_PROJECTS ? { ALLOWED_PROJECTS: env.ALLOWED_PROJECTS } : {}),
    }),
    gatewaySpecText: input.gatewaySpecText,
  };
}
