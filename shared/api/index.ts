export { redactSecrets } from '../redact.ts';
export type { ApiErrorCode, ApiErrorFacts, ApiName } from './api-error.ts';
export { ApiError, bodySnippet, isApiError } from './api-error.ts';
export type {
  CallOptions,
  DataSphereClientOptions,
  ExecuteRequest,
  OpenPathStyle,
  StartOptions,
} from './datasphere-client.ts';
export { DataSphereClient, DEFAULT_DATASPHERE_ENDPOINT } from './datasphere-client.ts';
export type { ApiRequest, HttpTransport, HttpTransportOptions } from './http-transport.ts';
export { createHttpTransport, DEFAULT_USER_AGENT } from './http-transport.ts';
export type { CancelMethod, OperationCallOptions, OperationClientOptions } from './operation-client.ts';
export { DEFAULT_OPERATION_ENDPOINT, OperationClient } from './operation-client.ts';
export { isProtoTimestamp, parseProtoTimestamp } from './proto-timestamp.ts';
export type {
  AnyMessage,
  ExecutionStatus,
  OpenProjectMetadata,
  OpenProjectResponse,
  OpenProjectStatus,
  OpenResult,
  Operation,
  OperationPayloads,
  PayloadDecoder,
  Project,
  ProjectExecutionMetadata,
  ProjectExecutionResponse,
  ProjectLimits,
  ProjectSettings,
  RpcStatus,
} from './protojson.ts';
export {
  ANY_PAYLOADS,
  decodeAnyMessage,
  decodeExecutionMetadata,
  decodeExecutionResponse,
  decodeOpenMetadata,
  decodeOpenResponse,
  decodeOperation,
  decodeProject,
  decodeRpcStatus,
  EXECUTE_PAYLOADS,
  EXECUTION_STATUSES,
  messageName,
  OPEN_PAYLOADS,
  OPEN_PROJECT_STATUSES,
  openResultOf,
  ResponseShapeError,
  SESSION_TOKEN_FIELDS,
} from './protojson.ts';
export type { AttemptOutcome, RetryPolicy, RetryPolicyOptions } from './retry-policy.ts';
export {
  createRetryPolicy,
  isTransient,
  NETWORK_ERROR_CODES,
  parseDurationMs,
  parseRetryAfter,
  TIMEOUT_ERROR_CODES,
} from './retry-policy.ts';
export type { RpcCodeInfo } from './rpc-codes.ts';
export {
  httpStatusText,
  RETRYABLE_HTTP_STATUSES,
  RPC,
  RPC_CODES,
  rpcCodeInfo,
  rpcCodeName,
  rpcCodeOf,
} from './rpc-codes.ts';
export type { TokenContext, TokenProvider, TokenProviderOptions } from './token-provider.ts';
export { createTokenProvider, DEFAULT_METADATA_HOST, metadataUrlFor } from './token-provider.ts';
export type { TokenSource } from './token-source.ts';
export { staticTokenSource } from './token-source.ts';
export type { DispatcherOptions } from './undici-dispatcher.ts';
export { createDispatcher } from './undici-dispatcher.ts';
