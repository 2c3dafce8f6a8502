/**
 * Base URLs of the Yandex Cloud REST APIs the deploy calls (paths checked against the google.api.http
 * annotations of yandex-cloud/cloudapi and the REST pages of yandex-cloud/docs). Tests point every
 * one of them at a local fake with `endpointsAt(base)`.
 */
export interface YandexEndpoints {
  readonly resourceManager: string;
  readonly iam: string;
  readonly functions: string;
  readonly triggers: string;
  readonly apiGateway: string;
  readonly lockbox: string;
  /** Lockbox payloads are served from their own host. */
  readonly lockboxPayload: string;
  readonly ydb: string;
  readonly datasphere: string;
  readonly operation: string;
  /** Message Queue (SQS query protocol, SigV4 with static keys only). */
  readonly messageQueue: string;
  /** Monitoring API (v3 dashboards and alerts). */
  readonly monitoring: string;
  /** A deployed API gateway's public base URL, `{domain}` standing for its domain. */
  readonly gatewayInvoke: string;
}

export const YANDEX_ENDPOINTS: YandexEndpoints = Object.freeze({
  resourceManager: 'https://resource-manager.api.cloud.yandex.net',
  iam: 'https://iam.api.cloud.yandex.net',
  functions: 'https://serverless-functions.api.cloud.yandex.net',
  triggers: 'https://serverless-triggers.api.cloud.yandex.net',
  apiGateway: 'https://serverless-apigateway.api.cloud.yandex.net',
  lockbox: 'https://lockbox.api.cloud.yandex.net',
  lockboxPayload: 'https://payload.lockbox.api.cloud.yandex.net',
  ydb: 'https://ydb.api.cloud.yandex.net',
  datasphere: 'https://datasphere.api.cloud.yandex.net',
  operation: 'https://operation.api.cloud.yandex.net',
  messageQueue: 'https://message-queue.api.cloud.yandex.net',
  monitoring: 'https://monitoring.api.cloud.yandex.net',
  gatewayInvoke: 'https://{domain}',
});

/** Every API, and the gateways, at one base URL (a local fake serves all paths on one port). */
export function endpointsAt(base: string): YandexEndpoints {
  const url = base.replace(/\/+$/, '');
  return Object.freeze({
    resourceManager: url,
    iam: url,
    functions: url,
    triggers: url,
    apiGateway: url,
    lockbox: url,
    lockboxPayload: url,
    ydb: url,
    datasphere: url,
    operation: url,
    messageQueue: url,
    monitoring: url,
    // The fake answers for every gateway it made under /_apigw/<domain>.
    gatewayInvoke: `${url}/_apigw/{domain}`,
  });
}
