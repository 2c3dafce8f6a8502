/**
 * Prints api-gateway/openapi.yaml with the deployed function ids and the invoker service account id
 * filled in, looked up by name through the Yandex Cloud API (names from serverless.yaml).
 *
 *   node --import tsx deploy/render-gateway-spec.ts [--stage prod] [--out .serverless/gateway.yaml]
 *
 * Then: yc serverless api-gateway create --name datasphere-runner-prod --spec .serverless/gateway.yaml
 * (or `update --name … --spec …`). See README.md, "Deploying to Yandex Cloud".
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { API, createGetJson, listAll } from './cloud-api.ts';
import { exchangeOauthToken, resolveCredentials, runYcCli } from './credentials.ts';
import type { CloudFunction, ServiceAccount } from './deployment-model.ts';
import { renderGatewaySpec } from './gateway-spec.ts';
import { expectedDeployment, loadServerlessConfig } from './serverless-config.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { stage: { type: 'string', default: process.env.STAGE ?? 'prod' }, out: { type: 'string' } },
  });
  const root = join(import.meta.dirname, '..');
  const config = loadServerlessConfig(join(root, 'serverless.yaml'));
  const expected = expectedDeployment(config, { env: process.env, options: { stage: values.stage } });
  const byKey = new Map(expected.functions.map((f) => [f.key, f.name]));
  const invokers = [...new Set(expected.triggers.map((t) => t.invokerAccountName))];
  if (invokers.length !== 1 || invokers[0] === undefined) {
    throw new Error(
      `serverless.yaml: expected one invoker service account, found ${invokers.join(', ') || 'none'}`,
    );
  }

  const credentials = await resolveCredentials({ env: process.env, runYc: runYcCli, exchangeOauthToken });
  const getJson = createGetJson(credentials.iamToken);
  const folder = encodeURIComponent(credentials.folderId);
  const functions = await listAll<CloudFunction>(
    getJson,
    `${API.functions}/functions?folderId=${folder}`,
    'functions',
  );
  const accounts = await listAll<ServiceAccount>(
    getJson,
    `${API.iam}/serviceAccounts?folderId=${folder}&pageSize=1000`,
    'serviceAccounts',
  );
  const idOf = (key: string): string => {
    const name = byKey.get(key);
    const found = functions.find((f) => f.name === name);
    if (found === undefined)
      throw new Error(`function ${name ?? key} is not deployed in folder ${credentials.folderId}`);
    return found.id;
  };
  const invoker = accounts.find((a) => a.name === invokers[0]);
  if (invoker === undefined)
    throw new Error(`service account ${invokers[0]} not found in folder ${credentials.folderId}`);

  const spec = renderGatewaySpec(readFileSync(join(root, 'api-gateway', 'openapi.yaml'), 'utf8'), {
    executeFunctionId: idOf('execute'),
    checkFunctionId: idOf('check'),
    cancelFunctionId: idOf('cancel'),
    invokerServiceAccountId: invoker.id,
  });
  if (values.out === undefined) {
    process.stdout.write(spec);
  } else {
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, spec);
    process.stderr.write(`wrote ${values.out}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`render-gateway-spec: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
