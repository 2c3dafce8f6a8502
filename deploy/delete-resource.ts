/** Deleting one cloud resource the way every deploy step does: the call, its operation, one log line. */
import { waitForOperation } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';

/** DELETEs `url`, waits for the operation, and logs `deleted <what>`. */
export async function deleteResource(ctx: DeployContext, url: string, what: string): Promise<void> {
  const answer = await ctx.http.call('DELETE', url);
  await waitForOperation(ctx.http, answer, `deleting ${what}`, ctx.wait);
  ctx.log(`deleted ${what}`);
}
