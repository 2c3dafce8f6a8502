/**
 * The last step of a verified deploy with metrics on: the dashboard and the example alerts of
 * deploy/monitoring/ in the deploy's folder, through deploy/monitoring/apply-monitoring.ts. The
 * dashboard is created, or replaced when its definition changed (a label holds the definition's
 * hash), else left alone; each alert is created when no alert of its name exists. So a second deploy
 * changes nothing.
 *
 * Alerts need a notification channel (MONITORING_CHANNEL_ID, made in the console); without one only
 * the dashboard is applied. The functions work without any of this: a failure here is reported and
 * does not fail the deploy, and an alerts API that answers 404/501 (the alert methods are in Yandex's
 * generated REST reference but not in the public protos) is reported as such by the script.
 *
 * The dashboard and the alerts are the folder's, not a stage's: the metrics carry no stage label yet,
 * so two stages of one folder would add up on them (docs/deploy.md says to turn metrics off on one).
 */
import type { DeployContext } from './deploy-context.ts';
import type { DeploySettings } from './preflight.ts';

export interface MonitoringOutcome {
  /** Whether the dashboard (and, with a channel, the alerts) are as defined. */
  readonly applied: boolean;
  readonly notes: readonly string[];
}

export async function ensureMonitoring(
  ctx: DeployContext,
  settings: DeploySettings,
): Promise<MonitoringOutcome> {
  const notes: string[] = [];
  if (!settings.metrics) return { applied: false, notes: ['metrics are off (METRICS=off): no dashboard'] };
  try {
    const result = await ctx.monitoring({
      folderId: ctx.folderId,
      ...(settings.monitoringChannelId === undefined
        ? {}
        : { alertsChannelId: settings.monitoringChannelId }),
      say: (line) => ctx.log(`monitoring: ${line}`),
    });
    const refused = result.alerts.filter((a) => a.action === 'refused').map((a) => a.name);
    if (refused.length > 0) {
      notes.push(
        `the alerts API refused ${refused.join(', ')}: create them in the console from deploy/monitoring/alerts.json`,
      );
    }
    return { applied: refused.length === 0, notes: [...notes, ...noChannel(settings)] };
  } catch (error) {
    notes.push(
      `the dashboard was not applied (${error instanceof Error ? error.message : String(error)}); ` +
        `the functions do not need it: run npm run deploy again, or node --import tsx deploy/monitoring/apply-monitoring.ts --folder ${ctx.folderId}`,
    );
    return { applied: false, notes: [...notes, ...noChannel(settings)] };
  }
}

const noChannel = (settings: DeploySettings): string[] =>
  settings.monitoringChannelId === undefined
    ? [
        'no alerts: set MONITORING_CHANNEL_ID to a notification channel id to get the example alerts (a run FAILED or TIMED_OUT; no sweep for 5 minutes)',
      ]
    : [];
