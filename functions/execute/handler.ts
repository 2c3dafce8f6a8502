import type { CoreDeps } from '../../shared/core/ports.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import type { DedupeSource } from '../../shared/core/run-identity.ts';
import type { RunRequest } from '../../shared/core/run-record.ts';
import { createSlotWatermarks } from '../../shared/core/slot-watermark.ts';
import { type StartRunInput, startRun } from '../../shared/core/start-run.ts';
import { tick } from '../../shared/core/tick.ts';
import { createFunctionRuntime, type FunctionRuntime } from '../../shared/function-runtime.ts';
import { getEmbeddedJobs } from '../../shared/schedule/embedded-jobs.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { errorBody } from '../../shared/triggers/error-response.ts';
import { bodyJson, header, requireMethod } from '../../shared/triggers/http-request.ts';
import { type HttpResult, jsonResult } from '../../shared/triggers/http-response.ts';
import { runBatch } from '../../shared/triggers/invocation.ts';
import {
  httpIdempotencyKey,
  parseRunRequestInput,
  parseRunRequestJson,
} from '../../shared/triggers/run-request.ts';
import { type HttpEvent, queueMessageParts, timerCreatedAt } from '../../shared/triggers/trigger-event.ts';

/** execute: starts notebook runs from HTTP, timer (payload, or a tick of the jobs file) and queue triggers. */
export function createHandler(runtime: FunctionRuntime, jobs: readonly JobDefinition<RunRequest>[]) {
  // What this instance last saw of each job's missed-slot watermark: ticks of a slot that has not moved cost nothing.
  const watermarks = createSlotWatermarks();
  return createEntryHandler('execute', runtime, {
    http: (request, { deps, signal }) => startFromHttp(request, deps(), signal),
    timer(messages, { deps, signal }) {
      return runBatch(
        deps().log,
        'timer',
        messages.map((message, index) => ({
          id: message.event_metadata.event_id,
          work: async () => {
            const payload = message.details.payload;
            if (payload === undefined || payload.trim() === '') {
              await tick(jobs, timerCreatedAt(message, index), deps(), signal, watermarks);
              return;
            }
            const parsed = parseRunRequestJson(payload, `messages.${index}.details.payload`);
            const dedupe: DedupeSource =
              parsed.idempotencyKey === undefined
                ? { kind: 'timer', eventId: message.event_metadata.event_id }
                : { kind: 'key', key: parsed.idempotencyKey };
            await start({ request: parsed.request, trigger: 'timer', dedupe }, deps(), signal);
          },
        })),
      );
    },
    queue(messages, { deps, signal }) {
      return runBatch(
        deps().log,
        'queue',
        messages.map((message, index) => ({
          id: message.details.message?.message_id ?? message.event_metadata.event_id,
          work: async () => {
            const { messageId, body } = queueMessageParts(message, index);
            const parsed = parseRunRequestJson(body, `messages.${index}.details.message.body`);
            const dedupe: DedupeSource =
              parsed.idempotencyKey === undefined
                ? { kind: 'queue', messageId }
                : { kind: 'key', key: parsed.idempotencyKey };
            await start({ request: parsed.request, trigger: 'queue', dedupe }, deps(), signal);
          },
        })),
      );
    },
  });
}

/** A rejected start is final (its FAILED record is in the ledger): triggers log it and move on. */
async function start(input: StartRunInput, deps: CoreDeps, signal: AbortSignal | undefined): Promise<void> {
  const result = await startRun(input, deps, signal);
  deps.log.info('start handled', {
    runId: result.record.runId,
    outcome: result.outcome,
    status: result.record.status,
  });
}

async function startFromHttp(
  event: HttpEvent,
  deps: CoreDeps,
  signal: AbortSignal | undefined,
): Promise<HttpResult> {
  requireMethod(event, 'POST');
  const parsed = parseRunRequestInput(bodyJson(event) ?? {}, '');
  const key = httpIdempotencyKey(header(event, 'Idempotency-Key'), parsed);
  const requestId = event.requestContext?.requestId ?? crypto.randomUUID();
  const result = await startRun(
    {
      request: parsed.request,
      trigger: 'http',
      dedupe: key === undefined ? { kind: 'http', requestId } : { kind: 'key', key },
    },
    deps,
    signal,
  );
  if (result.outcome === 'rejected' && result.error !== undefined) {
    return jsonResult(502, { ...errorBody(result.error), run: toPublicRun(result.record) });
  }
  const replayed = result.outcome === 'existing' || result.outcome === 'pending';
  return jsonResult(202, toPublicRun(result.record), replayed ? { 'Idempotent-Replayed': 'true' } : {});
}

const runtime = createFunctionRuntime(process.env);
export const handler = createHandler(runtime, getEmbeddedJobs<RunRequest>());
