/**
 * Creates or updates the datasphere-runner dashboard (deploy/monitoring/dashboard.json) in a folder
 * through the Monitoring API v3 REST methods, and, on request, creates the example alerts
 * (deploy/monitoring/alerts.json). docs/metrics.md cites the API references.
 *
 *   node --import tsx deploy/monitoring/apply-monitoring.ts --folder <folderId>
 *        [--alerts --channel <notificationChannelId>] [--dry-run] [--force]
 *
 * The token is YC_IAM_TOKEN, else `yc iam create-token`; the folder is --folder, else YC_FOLDER_ID,
 * else `yc config get folder-id`. The caller needs monitoring.editor on the folder.
 *
 * Dashboard: found by name (`GET /monitoring/v3/dashboards?folderId=…&filter=name="…"`), then
 * replaced whole with its current etag (`PATCH /monitoring/v3/dashboards/{id}`), or created
 * (`POST /monitoring/v3/dashboards`). The dashboard carries the label `definition-sha256` (a hash of
 * the definition as sent): when it already matches, nothing is sent, so running it again changes
 * nothing (`npm run deploy` runs it on every deploy). A changed dashboard.json replaces the dashboard
 * whole, console edits included (copy it to keep them); `--force` replaces it even when unchanged.
 * Alerts: created when no alert of the same name exists (`GET/POST /monitoring/v3/alerts`); an existing
 * one is left as it is. The alert methods appear in Yandex's generated REST reference but not in the
 * public cloudapi protos: if the API refuses them, the script says so and the alerts can be made in the
 * console from alerts.json (docs/metrics.md has the steps).
 *
 * Exit codes: 0 done; 1 an API call failed; 2 usage (no folder, no token).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dispatcher } from 'undici';
import { CloudApiError, createCloudHttp, type HttpMethod } from '../cloud-http.ts';

export const MONITORING_API = 'https://monitoring.api.cloud.yandex.net';
const HERE = import.meta.dirname;

export interface ApplyOptions {
  readonly folderId: string;
  readonly token: string;
  /** Replace the dashboard even when its definition label says it is current. */
  readonly force?: boolean;
  /** @default https://monitoring.api.cloud.yandex.net */
  readonly endpoint?: string;
  readonly dispatcher?: Dispatcher;
  /** Create the example alerts, notifying this channel. */
  readonly alertsChannelId?: string;
  /** Print what would be sent, send nothing. */
  readonly dryRun?: boolean;
  readonly say?: (line: string) => void;
}

export interface ApplyResult {
  readonly dashboard: {
    readonly action: 'created' | 'updated' | 'unchanged' | 'dry-run';
    readonly id?: string;
  };
  readonly alerts: { readonly name: string; readonly action: 'created' | 'exists' | 'refused' | 'dry-run' }[];
}

type Json = Record<string, unknown>;

/** The dashboard label holding a hash of the definition last applied. */
export const DEFINITION_LABEL = 'definition-sha256';

/** The definition with its hash label (a label value: at most 63 of `[-_./\\@0-9a-z]`). */
export function labelledDashboard(definition: Json): Json {
  const hash = createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 32);
  return { ...definition, labels: { ...(definition.labels as Json | undefined), [DEFINITION_LABEL]: hash } };
}

/** A JSON file of this folder with every `@FOLDER_ID@` replaced (queries name their folder). */
export function loadDefinition(file: string, folderId: string): Json {
  if (!/^[A-Za-z0-9_-]{1,50}$/.test(folderId)) throw new Error(`"${folderId}" is not a folder id`);
  const text = readFileSync(join(HERE, file), 'utf8').replaceAll('@FOLDER_ID@', folderId);
  return JSON.parse(text) as Json;
}

/**
 * The Monitoring API through the deploy's JSON client (deploy/cloud-http.ts: token, timeouts, error
 * wording). Create/Update/Delete answer an Operation, and a failed one comes with a 200 and `error`:
 * that is an error here too.
 */
function client(options: ApplyOptions) {
  const base = (options.endpoint ?? MONITORING_API).replace(/\/+$/, '');
  const http = createCloudHttp({ token: options.token, dispatcher: options.dispatcher, timeoutMs: 30_000 });
  return async (method: HttpMethod, path: string, body?: unknown): Promise<Json> => {
    const json = await http.call(method, `${base}${path}`, body);
    const error = json.error as { code?: number; message?: string } | undefined;
    if (json.done === true && error !== undefined) {
      throw new CloudApiError(
        method,
        `${base}${path}`,
        200,
        error.code,
        `operation failed (code ${error.code}): ${error.message}`,
      );
    }
    return json;
  };
}

/** Creates or updates the dashboard, then (with a channel) the alerts. */
export async function applyMonitoring(options: ApplyOptions): Promise<ApplyResult> {
  const say = options.say ?? ((line: string) => process.stdout.write(`monitoring: ${line}\n`));
  const call = client(options);
  const folder = encodeURIComponent(options.folderId);
  const dashboard = labelledDashboard(loadDefinition('dashboard.json', options.folderId));
  const name = String(dashboard.name);
  const hash = (dashboard.labels as Json)[DEFINITION_LABEL];

  let dashboardResult: ApplyResult['dashboard'];
  if (options.dryRun) {
    say(`would create or update dashboard "${name}" (${(dashboard.widgets as unknown[]).length} widgets)`);
    dashboardResult = { action: 'dry-run' };
  } else {
    const filter = encodeURIComponent(`name="${name}"`);
    const listed = await call('GET', `/monitoring/v3/dashboards?folderId=${folder}&filter=${filter}`);
    const existing = ((listed.dashboards as Json[] | undefined) ?? []).find((item) => item.name === name);
    if (existing === undefined) {
      const operation = await call('POST', '/monitoring/v3/dashboards', {
        folderId: options.folderId,
        ...dashboard,
      });
      const id = dashboardIdOf(operation);
      say(`created dashboard "${name}"${id === undefined ? '' : ` (${id})`}`);
      dashboardResult = { action: 'created', ...(id === undefined ? {} : { id }) };
    } else if ((existing.labels as Json | undefined)?.[DEFINITION_LABEL] === hash && options.force !== true) {
      const id = String(existing.id);
      say(`dashboard "${name}" (${id}) is current`);
      dashboardResult = { action: 'unchanged', id };
    } else {
      const id = String(existing.id);
      await call('PATCH', `/monitoring/v3/dashboards/${encodeURIComponent(id)}`, {
        ...dashboard,
        ...(typeof existing.etag === 'string' ? { etag: existing.etag } : {}),
      });
      say(`updated dashboard "${name}" (${id})`);
      dashboardResult = { action: 'updated', id };
    }
  }

  const alerts: ApplyResult['alerts'] = [];
  if (options.alertsChannelId !== undefined) {
    const definitions = loadDefinition('alerts.json', options.folderId).alerts as {
      notifyAboutStatuses: string[];
      alert: Json;
    }[];
    for (const { alert, notifyAboutStatuses } of definitions) {
      const alertName = String(alert.name);
      if (options.dryRun) {
        say(`would create alert "${alertName}" notifying channel ${options.alertsChannelId}`);
        alerts.push({ name: alertName, action: 'dry-run' });
        continue;
      }
      try {
        const filter = encodeURIComponent(`name="${alertName}"`);
        const listed = await call('GET', `/monitoring/v3/alerts?folderId=${folder}&filter=${filter}`);
        if (((listed.alerts as Json[] | undefined) ?? []).some((item) => item.name === alertName)) {
          say(`alert "${alertName}" exists; left as it is`);
          alerts.push({ name: alertName, action: 'exists' });
          continue;
        }
        await call('POST', '/monitoring/v3/alerts', {
          folderId: options.folderId,
          ...alert,
          channels: [{ channelId: options.alertsChannelId, notifyAboutStatuses, repeatPeriod: '0s' }],
        });
        say(`created alert "${alertName}"`);
        alerts.push({ name: alertName, action: 'created' });
      } catch (error) {
        if (!(error instanceof CloudApiError) || ![404, 501].includes(error.status)) throw error;
        say(
          `the alerts API refused "${alertName}" (${error.message}); create it in the console from alerts.json`,
        );
        alerts.push({ name: alertName, action: 'refused' });
      }
    }
  }
  return { dashboard: dashboardResult, alerts };
}

function dashboardIdOf(operation: Json): string | undefined {
  const response = operation.response as Json | undefined;
  const metadata = operation.metadata as Json | undefined;
  const id = response?.id ?? metadata?.dashboardId;
  return typeof id === 'string' ? id : undefined;
}

function yc(args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('yc', [...args], { timeout: 30_000 }, (error, stdout) => {
      resolve(error === null ? stdout.trim() || undefined : undefined);
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      folder: { type: 'string' },
      alerts: { type: 'boolean', default: false },
      channel: { type: 'string' },
      endpoint: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  const folderId =
    values.folder || process.env.YC_FOLDER_ID?.trim() || (await yc(['config', 'get', 'folder-id']));
  if (folderId === undefined || folderId === '') {
    process.stderr.write(
      'monitoring: no folder: pass --folder, set YC_FOLDER_ID, or configure yc (yc init)\n',
    );
    return 2;
  }
  if (values.alerts && values.channel === undefined) {
    process.stderr.write(
      'monitoring: --alerts needs --channel <notification channel id> (create one in the console)\n',
    );
    return 2;
  }
  const token = values['dry-run']
    ? 'dry-run'
    : process.env.YC_IAM_TOKEN?.trim() || (await yc(['iam', 'create-token']));
  if (token === undefined || token === '') {
    process.stderr.write('monitoring: no IAM token: set YC_IAM_TOKEN or configure yc (yc init)\n');
    return 2;
  }
  try {
    await applyMonitoring({
      folderId,
      token,
      dryRun: values['dry-run'],
      force: values.force,
      ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
      ...(values.alerts && values.channel !== undefined ? { alertsChannelId: values.channel } : {}),
    });
    return 0;
  } catch (error) {
    process.stderr.write(`monitoring: ${(error as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  main().then((code) => {
    process.exitCode = code;
  });
}
