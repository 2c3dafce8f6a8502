/**
 * Asks the deployed API gateway, as an anonymous caller would, whether it really denies: `GET
 * /runs` with no credential must be refused (the function's 401 UNAUTHENTICATED, or a 401/403 of
 * the gateway itself), and `GET /` must serve the console's page (the one public route). Read only:
 * a refused call reads no ledger and calls no API (docs/auth.md).
 *
 * A gateway that has just been created may not answer for a few seconds (its domain is new): network
 * errors and 502/503/504 are retried; one that never answers is reported as not confirmed, which
 * does not fail the deploy, while any answer other than a refusal for `/runs` does.
 */
import type { DeployContext, PublicAnswer } from './deploy-context.ts';

const ATTEMPTS = 4;
const FIRST_PAUSE_MS = 2000;

export interface ProbeResult {
  /** The gateway lets an anonymous caller in, or cannot reach the function: the stage is not healthy. */
  readonly problems: string[];
  /** What was seen (or why it could not be), for the deploy's output. */
  readonly notes: string[];
}

async function ask(
  ctx: DeployContext,
  url: string,
): Promise<{ answer: PublicAnswer } | { unreachable: string }> {
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    try {
      const answer = await ctx.publicGet(url);
      if (![502, 503, 504].includes(answer.status) || attempt === ATTEMPTS) return { answer };
      last = `HTTP ${answer.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
      if (attempt === ATTEMPTS) return { unreachable: last };
    }
    await ctx.sleep(FIRST_PAUSE_MS * 2 ** (attempt - 1));
  }
  return { unreachable: last };
}

const errorCode = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
  } catch {
    return undefined;
  }
};

export async function probeGateway(ctx: DeployContext, domain: string): Promise<ProbeResult> {
  const base = ctx.endpoints.gatewayInvoke.replace('{domain}', domain);
  const problems: string[] = [];
  const notes: string[] = [];
  const where = `API gateway ${ctx.names.gateway}`;

  const runs = await ask(ctx, `${base}/runs`);
  if ('unreachable' in runs) {
    notes.push(
      `${where}: GET /runs without credentials could not be asked (${runs.unreachable}); NOT confirmed that it is refused: try curl -i https://${domain}/runs`,
    );
  } else {
    const { status, body } = runs.answer;
    const code = errorCode(body);
    if (status === 401 || status === 403) {
      notes.push(
        `${where}: GET /runs without credentials is refused (${status}${code === undefined ? '' : ` ${code}`})`,
      );
    } else if (status >= 200 && status < 300) {
      problems.push(
        `${where}: GET /runs answers ${status} to a caller without credentials: the API is open to anyone`,
      );
    } else {
      problems.push(
        `${where}: GET /runs without credentials answered ${status}${code === undefined ? '' : ` ${code}`}, not 401 (is the check function reachable through the gateway?)`,
      );
    }
  }

  const page = await ask(ctx, `${base}/`);
  if ('unreachable' in page) {
    notes.push(`${where}: GET / could not be asked (${page.unreachable}); the console is NOT confirmed`);
  } else if (page.answer.status === 200 && page.answer.contentType.startsWith('text/html')) {
    notes.push(`${where}: GET / serves the web console (https://${domain}/)`);
  } else {
    problems.push(
      `${where}: GET / answered ${page.answer.status} ${page.answer.contentType || '(no content type)'}, not the console's page`,
    );
  }
  return { problems, notes };
}
