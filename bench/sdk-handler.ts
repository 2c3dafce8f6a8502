// The comparison row of `npm run bench`: the same start as functions/execute (HTTP POST of a run request
// → Project.Execute → 202 with the operation), written the way the official SDK's README shows, with
// @yandex-cloud/nodejs-sdk. It is only built and measured (first invocation, size), never deployed. The
// bench points it at the emulator (SDK_ENDPOINT=127.0.0.1:<port>), which speaks REST, not gRPC: the call
// fails at the TLS handshake, so its figure stops there. It has no ledger, no validation and no
// Idempotency-Key (the SDK sends none), so it does less than execute; the comparison flatters it.
// The SDK is installed on demand into a temp dir by bench/sdk-comparison.ts (bench/sdk/package.json).
import { Session } from '@yandex-cloud/nodejs-sdk';
import { projectService } from '@yandex-cloud/nodejs-sdk/datasphere-v2';

interface HttpEvent {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

interface Context {
  readonly token?: { readonly access_token?: string };
}

/** Starts the notebook named in the request body; answers 202 with the operation id. */
export async function handler(event: HttpEvent, context?: Context): Promise<unknown> {
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body;
  const body = JSON.parse(text ?? '{}') as {
    projectId: string;
    notebookId: string;
    inputVariables?: Record<string, string | number | boolean>;
    outputVariableNames?: string[];
    spec?: string;
    sparkConnectorId?: string;
  };
  const session = new Session({ iamToken: context?.token?.access_token ?? process.env.YC_IAM_TOKEN ?? '' });
  // SDK_ENDPOINT: the bench's emulator; unset, the SDK's own endpoint map (the real service).
  const client = session.client(projectService.ProjectServiceClient, process.env.SDK_ENDPOINT || undefined);
  const operation = await client.execute(
    projectService.ProjectExecutionRequest.fromPartial({
      projectId: body.projectId,
      notebookId: body.notebookId,
      ...(body.inputVariables === undefined ? {} : { inputVariables: body.inputVariables }),
      ...(body.outputVariableNames === undefined ? {} : { outputVariableNames: body.outputVariableNames }),
      ...(body.spec === undefined ? {} : { spec: body.spec }),
      ...(body.sparkConnectorId === undefined ? {} : { sparkConnectorId: body.sparkConnectorId }),
    }),
  );
  return {
    statusCode: 202,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ operationId: operation.id, done: operation.done }),
  };
}
