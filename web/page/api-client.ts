// The console's calls to the runner's HTTP API (design.md §6, §8), relative to the page's own address
// (the gateway's `/` or `npm start`'s front door). Every call carries the credential the person typed,
// as a header, never in the URL: an IAM token as `Authorization: Bearer`, an API key as `X-Api-Key`.

import type { StartRequest } from './run-request-form.ts';
import type { RunPage, RunView } from './run-types.ts';

export type CredentialKind = 'api-key' | 'iam-token';

export interface Credential {
  readonly kind: CredentialKind;
  readonly value: string;
}

/** An answer that is not a success, with the API's stable code and message when it sent them. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Every wrong field of an INVALID_REQUEST (`error.errors[]`). */
  readonly problems: readonly string[];
  constructor(status: number, code: string, message: string, problems: readonly string[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
  /** The credential was missing, wrong or expired (401), or does not allow this (403). */
  get refused(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export function credentialHeaders(credential: Credential | undefined): Record<string, string> {
  if (credential === undefined) return {};
  return credential.kind === 'iam-token'
    ? { Authorization: `Bearer ${credential.value}` }
    : { 'X-Api-Key': credential.value };
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; errors?: unknown } } | undefined)
    ?.error;
  if (error !== undefined && typeof error.message === 'string') {
    const problems = Array.isArray(error.errors)
      ? error.errors.map((e: { message?: unknown }) => String(e?.message ?? e))
      : [];
    return new ApiError(response.status, String(error.code ?? response.status), error.message, problems);
  }
  const platform = (body as { errorMessage?: unknown } | undefined)?.errorMessage;
  const message =
    typeof platform === 'string'
      ? platform
      : `the service answered ${response.status} ${response.statusText}`;
  return new ApiError(response.status, `HTTP_${response.status}`, message);
}

/** A random idempotency key for one press of "Start" (a double click starts one run, not two). */
function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

export interface ApiClient {
  listRuns(query: URLSearchParams): Promise<RunPage>;
  getRun(runId: string): Promise<RunView>;
  cancelRun(runId: string): Promise<RunView>;
  startRun(request: StartRequest): Promise<RunView>;
}

export function createApiClient(base: string, credential: () => Credential | undefined): ApiClient {
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    let response: Response;
    try {
      response = await fetch(new URL(path, base), {
        method,
        cache: 'no-store',
        credentials: 'omit',
        headers: {
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...credentialHeaders(credential()),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ApiError(0, 'UNREACHABLE', `the service could not be reached (${(error as Error).message})`);
    }
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as T;
  };
  const runPath = (runId: string) => `runs/${encodeURIComponent(runId)}`;
  return {
    listRuns: (query) => call<RunPage>('GET', `runs?${query}`),
    getRun: (runId) => call<RunView>('GET', runPath(runId)),
    cancelRun: (runId) => call<RunView>('POST', `${runPath(runId)}/cancel`),
    startRun: (request) => call<RunView>('POST', 'runs', request, { 'Idempotency-Key': newKey() }),
  };
}
