/**
 * What every deploy step is given: the REST client with the deployer's token, where the APIs are,
 * the folder, the stage's names, and the seams tests replace (clock, sleep, Message Queue and
 * Document API clients, the Serverless plugin, the Monitoring dashboard script, anonymous GETs).
 */
import type { StaticKeys } from '../shared/config.ts';
import type { CloudHttp, WaitOptions } from './cloud-http.ts';
import type { ApplyOptions, ApplyResult } from './monitoring/apply-monitoring.ts';
import type { PluginRunner } from './plugin-runner.ts';
import type { StageNames } from './stage-names.ts';
import type { YandexEndpoints } from './yandex-endpoints.ts';
import type { YmqAdmin } from './ymq-admin.ts';

/** Creates (when asked) and describes the run ledger's table through the Document API. */
export interface DocApiTables {
  /** Creates the table with the ledger's own definition when missing and waits until it is ACTIVE. */
  ensure(endpoint: string, table: string): Promise<void>;
  /** `ACTIVE` with the open index, `MISSING`, or a description of what is wrong. */
  check(endpoint: string, table: string): Promise<'ACTIVE' | 'MISSING' | string>;
}

/** One answer of a public URL (the deployed gateway), asked without any credential. */
export interface PublicAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** deploy/monitoring/apply-monitoring.ts with the deployer's token and the Monitoring endpoint bound. */
export type MonitoringApplier = (
  options: Pick<ApplyOptions, 'folderId' | 'alertsChannelId' | 'say'>,
) => Promise<ApplyResult>;

export interface DeployContext {
  readonly http: CloudHttp;
  readonly endpoints: YandexEndpoints;
  readonly wait: WaitOptions;
  readonly folderId: string;
  readonly cloudId: string;
  readonly names: StageNames;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** A Message Queue client signing with `keys`; `fresh` = the key was just created. */
  readonly ymq: (keys: StaticKeys, fresh: boolean) => YmqAdmin;
  readonly tables: DocApiTables;
  readonly plugin: PluginRunner;
  /** Creates or updates the dashboard and the example alerts (after verification). */
  readonly monitoring: MonitoringApplier;
  /** GET without any credential (the gateway's anonymous-caller check). */
  readonly publicGet: (url: string) => Promise<PublicAnswer>;
}
