// Preloaded (`node --require`) into the REAL `serverless deploy` (serverless@3.40.0 with
// @yandex-cloud/serverless-plugin@1.7.5 from deploy/tool) so that it runs offline: the SDK's
// network client (Session.prototype.client, the gRPC channel) is replaced by one that sends each
// call the plugin makes to the local fake's REST API (DEPLOY_API_BASE), converting requests with
// the SDK's own generated `toJSON` and answers with `fromJSON`/`encode`, so the fake records the
// plugin's real calls. Only the methods the plugin's deploy uses are mapped; any other throws.
'use strict';
const path = require('node:path');

const toolModules = path.join(
  process.env.SHIM_TOOL_DIR,
  'node_modules',
  '@yandex-cloud',
  'nodejs-sdk',
  'dist',
);
const { Session } = require(path.join(toolModules, 'session.js'));
const { messageTypeRegistry } = require(path.join(toolModules, 'generated', 'typeRegistry.js'));

const base = process.env.DEPLOY_API_BASE;
const token = process.env.YC_IAM_TOKEN;

/** gRPC method → [HTTP method, path from the request, whether the request becomes the body]. */
const ROUTES = {
  'yandex.cloud.serverless.functions.v1.FunctionService/List': (r) => [
    'GET',
    `/functions/v1/functions?folderId=${r.folderId}`,
  ],
  'yandex.cloud.serverless.functions.v1.FunctionService/Create': () => [
    'POST',
    '/functions/v1/functions',
    true,
  ],
  'yandex.cloud.serverless.functions.v1.FunctionService/CreateVersion': () => [
    'POST',
    '/functions/v1/versions',
    true,
  ],
  'yandex.cloud.serverless.functions.v1.FunctionService/Delete': (r) => [
    'DELETE',
    `/functions/v1/functions/${r.functionId}`,
  ],
  'yandex.cloud.serverless.triggers.v1.TriggerService/List': (r) => [
    'GET',
    `/triggers/v1/triggers?folderId=${r.folderId}`,
  ],
  'yandex.cloud.serverless.triggers.v1.TriggerService/Create': () => ['POST', '/triggers/v1/triggers', true],
  'yandex.cloud.serverless.triggers.v1.TriggerService/Delete': (r) => [
    'DELETE',
    `/triggers/v1/triggers/${r.triggerId}`,
  ],
  'yandex.cloud.iam.v1.ServiceAccountService/List': (r) => [
    'GET',
    `/iam/v1/serviceAccounts?folderId=${r.folderId}`,
  ],
  'yandex.cloud.resourcemanager.v1.FolderService/ListAccessBindings': (r) => [
    'GET',
    `/resource-manager/v1/folders/${r.resourceId}:listAccessBindings`,
  ],
  'yandex.cloud.containerregistry.v1.RegistryService/List': (r) => [
    'GET',
    `/container-registry/v1/registries?folderId=${r.folderId}`,
  ],
  'yandex.cloud.serverless.apigateway.v1.ApiGatewayService/List': (r) => [
    'GET',
    `/apigateways/v1/apigateways?folderId=${r.folderId}`,
  ],
  'yandex.cloud.operation.OperationService/Get': (r) => ['GET', `/operations/${r.operationId}`],
};

/** What each operation-returning method's `response` holds, for `decodeMessage`. */
const OPERATION_RESPONSE = {
  'yandex.cloud.serverless.functions.v1.FunctionService/Create':
    'yandex.cloud.serverless.functions.v1.Function',
  'yandex.cloud.serverless.functions.v1.FunctionService/CreateVersion':
    'yandex.cloud.serverless.functions.v1.Version',
  'yandex.cloud.serverless.triggers.v1.TriggerService/Create': 'yandex.cloud.serverless.triggers.v1.Trigger',
};
const operationTypes = new Map();

function toOperation(json, responseType) {
  const type = responseType ?? operationTypes.get(json.id);
  if (responseType !== undefined) operationTypes.set(json.id, responseType);
  const cls = type === undefined ? undefined : messageTypeRegistry.get(type);
  const operation = messageTypeRegistry.get('yandex.cloud.operation.Operation').fromPartial({
    id: json.id,
    done: json.done === true,
    ...(json.error ? { error: { code: json.error.code, message: json.error.message } } : {}),
  });
  if (json.done === true && !json.error && cls !== undefined) {
    operation.response = {
      typeUrl: `type.googleapis.com/${type}`,
      value: cls.encode(cls.fromJSON(json.response ?? {})).finish(),
    };
  }
  return operation;
}

Session.prototype.client = function client(clientClass) {
  const service = clientClass.service;
  const client = {};
  for (const [name, definition] of Object.entries(service)) {
    const grpcPath = definition.path.slice(1);
    client[name] = async (request) => {
      const route = ROUTES[grpcPath];
      if (route === undefined) throw new Error(`real-plugin-shim: ${grpcPath} is not mapped`);
      const [method, restPath, withBody] = route(request);
      const requestType = messageTypeRegistry.get(request.$type);
      const response = await fetch(`${base}${restPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(withBody ? { body: JSON.stringify(requestType.toJSON(request)) } : {}),
      });
      const json = await response.json();
      if (!response.ok) {
        const error = new Error(`/${grpcPath} UNKNOWN: ${json.message}`);
        error.code = json.code;
        throw error;
      }
      const empty = definition.responseDeserialize(Buffer.alloc(0));
      if (empty.$type === 'yandex.cloud.operation.Operation') {
        return toOperation(
          json,
          grpcPath === 'yandex.cloud.operation.OperationService/Get'
            ? undefined
            : (OPERATION_RESPONSE[grpcPath] ?? 'google.protobuf.Empty'),
        );
      }
      return messageTypeRegistry.get(empty.$type).fromJSON(json);
    };
  }
  return client;
};
