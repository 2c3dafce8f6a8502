import type { AnyMessage, Operation } from '../api/protojson.ts';
import { RunnerError } from '../errors.ts';
import type { CoreDeps } from './ports.ts';
import { startKeyFor } from './run-identity.ts';
import { actionOf, type RunRecord, type RunRequest } from './run-record.ts';

/**
 * The start call of each action (design.md §4): Project.Execute for `execute`, Project.Open for
 * `open`, DockerImage.Activate for `activate`. Every one creates an operation, carries an
 * Idempotency-Key derived from the run's dedupe key (its own purpose per action, run-identity.ts) and
 * is re-driven after a crash with the same key; what comes back is followed by the sweep like any run.
 */

/**
 * Whether the start call is the very next step after the claim. Only an execute run with a Docker
 * image activates first (and marks `startSentAt` in its own write once the activation is done); an
 * `activate` run's Activate IS its start call.
 */
export function startsAtOnce(request: RunRequest): boolean {
  return request.action !== undefined || request.dockerId === undefined;
}

/** Sends the start call of `record`'s action with its derived Idempotency-Key. */
export function sendStart(
  record: RunRecord,
  deps: Pick<CoreDeps, 'datasphere'>,
  signal?: AbortSignal,
): Promise<Operation<AnyMessage, AnyMessage>> {
  const { request } = record;
  const action = actionOf(request);
  const opts = {
    idempotencyKey: startKeyFor(action, record.dedupeKey),
    ...(signal === undefined ? {} : { signal }),
  };
  switch (action) {
    case 'open':
      return deps.datasphere.openProject(request.projectId, opts);
    case 'activate':
      if (request.dockerId === undefined) {
        // The run-request parser requires dockerId for activate; a record without it is a bug.
        throw new RunnerError('INTERNAL', `run ${record.runId}: an activate run without dockerId`);
      }
      return deps.datasphere.activateDockerImage(
        { projectId: request.projectId, dockerId: request.dockerId },
        opts,
      );
    case 'execute':
      if (request.notebookId === undefined) {
        // The run-request parser requires notebookId for execute; a record without it is a bug.
        throw new RunnerError('INTERNAL', `run ${record.runId}: an execute run without notebookId`);
      }
      return deps.datasphere.execute(
        request.projectId,
        {
          notebookId: request.notebookId,
          ...(request.inputVariables === undefined ? {} : { inputVariables: { ...request.inputVariables } }),
          ...(request.outputVariableNames === undefined
            ? {}
            : { outputVariableNames: [...request.outputVariableNames] }),
          ...(request.spec === undefined ? {} : { spec: request.spec }),
          ...(request.sparkConnectorId === undefined ? {} : { sparkConnectorId: request.sparkConnectorId }),
        },
        opts,
      );
  }
}
