import { allowedMethods, errorBody, policyOf } from './error-response.ts';

/** What a Cloud Functions HTTP handler returns (function-types `Http.Result`). */
export interface HttpResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly isBase64Encoded: false;
}

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

export function jsonResult(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult {
  return {
    statusCode,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/**
 * What a 401 asks for (RFC 9110 §11.6.1): an IAM token as a bearer, or an API key in `X-Api-Key`. Only
 * calls through the API Gateway are ever answered 401 (a direct invocation was authorized by IAM), so
 * the Functions front's own handling of this response header on URL invocations never comes into play.
 */
export const WWW_AUTHENTICATE =
  'Bearer realm="datasphere-runner", ApiKey realm="datasphere-runner", header="X-Api-Key"';

/** The HTTP answer for a thrown error, its status from the one error table. */
export function errorResult(error: unknown): HttpResult {
  const { status } = policyOf(error);
  const headers: Record<string, string> = status === 503 ? { 'Retry-After': '30' } : {};
  if (status === 401) headers['WWW-Authenticate'] = WWW_AUTHENTICATE;
  const allow = allowedMethods(error);
  if (allow !== undefined) headers.Allow = allow;
  return jsonResult(status, errorBody(error), headers);
}
