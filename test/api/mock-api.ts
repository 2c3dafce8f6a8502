import { MockAgent } from 'undici';
import { DataSphereClient, type OpenPathStyle } from '../../shared/api/datasphere-client.ts';
import { createHttpTransport, type HttpTransport } from '../../shared/api/http-transport.ts';
import { OperationClient } from '../../shared/api/operation-client.ts';
import { staticTokenSource } from '../../shared/api/token-source.ts';

/** Test doubles for the API module: a MockAgent that refuses the network, and a recording sleep. */
export const DS = 'https://datasphere.api.cloud.yandex.net';
export const OPS = 'https://operation.api.cloud.yandex.net';
export const TOKEN = 't1.test-token-abcdefghijklmnopqrstuvwxyz.0123456789';
export const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };

export interface MockApi {
  readonly agent: MockAgent;
  readonly transport: HttpTransport;
  readonly datasphere: DataSphereClient;
  readonly operations: OperationClient;
  /** Every delay the transport asked to sleep, in order. */
  readonly sleeps: number[];
  /** The outgoing requests, in order. */
  calls(): Array<{ method: string; path: string; headers: Record<string, string>; body: unknown }>;
  close(): Promise<void>;
}

export function createMockApi(
  options: {
    timeoutMs?: number;
    random?: () => number;
    openPathStyle?: OpenPathStyle;
    now?: () => number;
  } = {},
): MockApi {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  const sleeps: number[] = [];
  let ids = 0;
  const transport = createHttpTransport({
    dispatcher: agent,
    token: staticTokenSource(TOKEN),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: options.random ?? (() => 0.5),
    newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return {
    agent,
    transport,
    datasphere: new DataSphereClient({
      transport,
      ...(options.openPathStyle ? { openPathStyle: options.openPathStyle } : {}),
    }),
    operations: new OperationClient({ transport }),
    sleeps,
    calls: () =>
      (agent.getCallHistory()?.calls() ?? []).map((call) => ({
        method: call.method,
        path: call.path,
        headers: normaliseHeaders(call.headers),
        body: typeof call.body === 'string' && call.body !== '' ? JSON.parse(call.body) : undefined,
      })),
    async close() {
      agent.assertNoPendingInterceptors();
      await agent.close();
    },
  };
}

function normaliseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      out[String(headers[i]).toLowerCase()] = String(headers[i + 1]);
  } else if (headers && typeof headers === 'object') {
    for (const [key, value] of Object.entries(headers)) out[key.toLowerCase()] = String(value);
  }
  return out;
}

/** A running Execute operation as api.md §3 shows it. */
export function runningExecute(id = 'op1', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    createdAt: '2025-06-02T06:00:03.481290117Z',
    createdBy: 'ajeq2v6k1m8r4c0h9t5s',
    modifiedAt: '2025-06-02T06:00:03.481290117Z',
    done: false,
    metadata: {
      '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionMetadata',
      projectId: 'p1',
      notebookId: '/home/jupyter/datasphere/project/daily_report.ipynb',
    },
    ...extra,
  };
}

export function executeResponse(status: unknown): Record<string, unknown> {
  return {
    '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse',
    executionStatus: status,
  };
}

/** A finished Project.Open operation as the wire carries it, session token included. */
export function finishedOpen(sessionToken = 'session-secret'): {
  id: string;
  done: boolean;
  metadata: Record<string, unknown>;
  response: Record<string, unknown>;
} {
  return {
    id: 'op-open',
    done: true,
    metadata: {
      '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectMetadata',
      projectId: 'p1',
      status: 'OPEN_PROJECT_STATUS_STARTING_IDE',
    },
    response: {
      '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
      projectUrl: 'https://datasphere.yandex.cloud/p1',
      sessionToken,
    },
  };
}
