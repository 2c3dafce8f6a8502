/**
 * The optional API gateway `<service>-<stage>` from api-gateway/openapi.yaml, with the stage's
 * function ids and invoker account filled in. The spec's sha256 is kept in a label, so an unchanged
 * spec means no call. `--gateway` creates it; once a stage has one, every deploy keeps it current
 * (its routes require credentials, which the functions check: docs/auth.md).
 */
import { createHash } from 'node:crypto';
import { waitForOperation } from './cloud-http.ts';
import { deleteResource } from './delete-resource.ts';
import type { DeployContext } from './deploy-context.ts';
import type { DeployedFunction } from './ensure-functions.ts';
import { renderGatewaySpec } from './gateway-spec.ts';
import { listInFolder } from './list-all.ts';

export const SPEC_LABEL = 'spec-sha256';

export interface CloudGateway {
  readonly id: string;
  readonly name: string;
  readonly domain?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export async function findGateway(ctx: DeployContext): Promise<CloudGateway | undefined> {
  const gateways = await listInFolder<CloudGateway>(
    ctx,
    `${ctx.endpoints.apiGateway}/apigateways/v1/apigateways`,
    'apiGateways',
  );
  return gateways.find((g) => g.name === ctx.names.gateway);
}

export function gatewaySpec(
  specText: string,
  functions: readonly DeployedFunction[],
  invokerId: string,
): string {
  const id = (key: string): string => functions.find((f) => f.key === key)?.id ?? '';
  return renderGatewaySpec(specText, {
    executeFunctionId: id('execute'),
    checkFunctionId: id('check'),
    cancelFunctionId: id('cancel'),
    invokerServiceAccountId: invokerId,
  });
}

export const specHash = (spec: string): string =>
  createHash('sha256').update(spec).digest('hex').slice(0, 32);

/**
 * Creates (when `create`) or updates the gateway; returns its domain, or undefined when the stage
 * has none and none is asked for.
 */
export async function ensureGateway(
  ctx: DeployContext,
  spec: string,
  create: boolean,
): Promise<{ domain: string | undefined } | undefined> {
  const hash = specHash(spec);
  const found = await findGateway(ctx);
  const labels = { [SPEC_LABEL]: hash, stage: ctx.names.stage };
  if (found === undefined) {
    if (!create) return undefined;
    const answer = await ctx.http.call('POST', `${ctx.endpoints.apiGateway}/apigateways/v1/apigateways`, {
      folderId: ctx.folderId,
      name: ctx.names.gateway,
      description: 'datasphere-runner HTTP API',
      labels,
      openapiSpec: spec,
    });
    const created = await waitForOperation(
      ctx.http,
      answer,
      `creating API gateway ${ctx.names.gateway}`,
      ctx.wait,
    );
    ctx.log(`created API gateway ${ctx.names.gateway}`);
    return { domain: typeof created.domain === 'string' ? created.domain : undefined };
  }
  if (found.labels?.[SPEC_LABEL] === hash) return { domain: found.domain };
  const answer = await ctx.http.call(
    'PATCH',
    `${ctx.endpoints.apiGateway}/apigateways/v1/apigateways/${encodeURIComponent(found.id)}`,
    { updateMask: 'openapiSpec,labels', openapiSpec: spec, labels: { ...found.labels, ...labels } },
  );
  await waitForOperation(ctx.http, answer, `updating API gateway ${ctx.names.gateway}`, ctx.wait);
  ctx.log(`updated API gateway ${ctx.names.gateway}`);
  return { domain: found.domain };
}

export async function deleteGateway(ctx: DeployContext, gateway: CloudGateway): Promise<void> {
  await deleteResource(
    ctx,
    `${ctx.endpoints.apiGateway}/apigateways/v1/apigateways/${encodeURIComponent(gateway.id)}`,
    `API gateway ${gateway.name}`,
  );
}
