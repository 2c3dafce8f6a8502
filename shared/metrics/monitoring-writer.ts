import type { Dispatcher } from 'undici';
import type { TokenSource } from '../api/token-source.ts';
import type { MetricsConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { raceAbort } from '../net/race-abort.ts';
import { postOnce } from '../notify/http-attempt.ts';
import { snippet } from '../notify/notify-error.ts';
import { redactSecrets } from '../redact.ts';
import { type MonitoringWriteBody, sweepPayload } from './monitoring-payload.ts';
import type { SweepFigures } from './sweep-figures.ts';

/** Where one sweep's figures go. `write` never throws and returns within the configured bound. */
export interface MetricsSink {
  write(figures: SweepFigures, signal?: AbortSignal): Promise<WriteOutcome>;
}

/** What the composition root hands a sink factory (see shared/function-runtime.ts). */
export interface MetricsSinkParts {
  readonly config: MetricsConfig;
  readonly dispatcher: Dispatcher;
  /** The function's IAM token, the same source as the API clients'. */
  readonly token: TokenSource;
  readonly log: Logger;
}

export type MetricsSinkFactory = (parts: MetricsSinkParts) => MetricsSink;

export type WriteOutcome =
  | { readonly ok: true; readonly metrics: number; readonly written: number | undefined }
  | { readonly ok: false; readonly metrics: number; readonly reason: string; readonly httpStatus?: number };

export const WRITE_PATH = '/monitoring/v2/data/write';
const USER_AGENT = 'datasphere-runner/0.1 (+metrics)';

/**
 * Writes each sweep's figures to Yandex Monitoring in ONE `POST {endpoint}/monitoring/v2/data/write
 * ?folderId=…&service=custom` with `Authorization: Bearer <IAM token>`. Token and POST together are
 * bounded by `config.timeoutMs` (and the invocation's own signal); there is no retry: a lost point
 * costs one minute of one chart, a retry would hold the sweep's invocation longer, and the next sweep
 * writes fresh figures anyway. Every failure is logged (warn) and returned, never thrown.
 */
export function createMonitoringSink(parts: MetricsSinkParts): MetricsSink {
  const base = new URL(parts.config.endpoint);
  const path = `${base.pathname.replace(/\/+$/, '')}${WRITE_PATH}?folderId=${encodeURIComponent(
    parts.config.folderId,
  )}&service=custom`;
  const timeoutMs = parts.config.timeoutMs;

  return {
    async write(figures, signal) {
      const body: MonitoringWriteBody = sweepPayload(figures);
      // A timer of our own rather than AbortSignal.timeout(): that one does not keep the event loop
      // alive, and a write waiting on nothing else but it would never settle.
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const bounded = signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, signal]);
      try {
        return await send(body, bounded, () => deadline.signal.aborted);
      } finally {
        clearTimeout(timer);
      }
    },
  };

  async function send(
    body: MonitoringWriteBody,
    bounded: AbortSignal,
    timedOut: () => boolean,
  ): Promise<WriteOutcome> {
    const count = body.metrics.length;
    const failed = (reason: string, httpStatus?: number): WriteOutcome => {
      parts.log.warn('metrics write failed; the sweep goes on', {
        folderId: parts.config.folderId,
        metrics: count,
        reason,
        ...(httpStatus === undefined ? {} : { httpStatus }),
      });
      return { ok: false, metrics: count, reason, ...(httpStatus === undefined ? {} : { httpStatus }) };
    };

    let token: string;
    try {
      token = await raceAbort(parts.token.getToken(bounded), bounded);
    } catch (error) {
      if (bounded.aborted) return failed(`no IAM token within ${timeoutMs} ms`);
      return failed(`no IAM token: ${redactSecrets((error as Error)?.message ?? String(error))}`);
    }

    const result = await postOnce(parts.dispatcher, {
      origin: base.origin,
      path,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': USER_AGENT,
      },
      body: JSON.stringify(body),
      timeoutMs,
      signal: bounded,
      maxBodyChars: 2_048,
    });
    switch (result.kind) {
      case 'timeout':
        return failed(`no answer within ${timeoutMs} ms`);
      case 'aborted':
        return failed(
          timedOut() ? `no answer within ${timeoutMs} ms` : 'aborted: the invocation ran out of time',
        );
      case 'network':
        return failed(`connection failed (${result.errorCode})`);
      case 'answer':
        break;
    }
    const answer = parseJson(result.text);
    if (result.status < 200 || result.status > 299) {
      const said = snippet(typeof answer?.message === 'string' ? answer.message : result.text, 300);
      const code = typeof answer?.code === 'number' ? ` (code ${answer.code})` : '';
      return failed(
        `answered HTTP ${result.status}${code}${said === '' ? '' : `: ${redactSecrets(said)}`}`,
        result.status,
      );
    }
    // The reference names the count writtenMetricsCount; its how-to example shows metrics_written.
    const written = toCount(answer?.writtenMetricsCount ?? answer?.metrics_written ?? answer?.metricsPushed);
    const errorMessage = typeof answer?.errorMessage === 'string' ? answer.errorMessage : '';
    if (errorMessage !== '' || (written !== undefined && written < count)) {
      parts.log.warn('metrics write partly failed', {
        folderId: parts.config.folderId,
        metrics: count,
        written,
        reason: redactSecrets(snippet(errorMessage)),
      });
    } else {
      parts.log.debug('metrics written', { metrics: count, written });
    }
    return { ok: true, metrics: count, written };
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** int64 counts arrive as strings in ProtoJSON. */
function toCount(value: unknown): number | undefined {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}
