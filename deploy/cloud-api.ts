/**
 * Reads the deployed state from the Yandex Cloud REST APIs with the deployer's IAM token. The
 * transport is a plain `GetJson` function so that tests replay recorded answers instead.
 * Paths and fields: see `deployment-model.ts`.
 */
import { type Dispatcher, request } from 'undici';
import type {
  CloudFunction,
  CloudTrigger,
  FunctionVersion,
  ObservedDeployment,
  ServiceAccount,
} from './deployment-model.ts';

export const API = {
  functions: 'https://serverless-functions.api.cloud.yandex.net/functions/v1',
  triggers: 'https://serverless-triggers.api.cloud.yandex.net/triggers/v1',
  iam: 'https://iam.api.cloud.yandex.net/iam/v1',
} as const;

/** GET a URL and return its parsed JSON body; throws on any non-2xx answer. */
export type GetJson = (url: string) => Promise<unknown>;

/**
 * A `GetJson` that sends `Authorization: Bearer <token>` through undici. Error messages name the
 * URL and the status and carry the API's own message, never the token.
 */
export function createGetJson(token: string, options: { readonly dispatcher?: Dispatcher } = {}): GetJson {
  return async (url) => {
    const response = await request(url, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`GET ${url}: HTTP ${response.statusCode}${apiMessage(text)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`GET ${url}: HTTP ${response.statusCode} with a body that is not JSON`);
    }
  };
}

/** Every item of a paginated list (`pageToken`/`nextPageToken`), in order. */
export async function listAll<T>(getJson: GetJson, url: string, field: string): Promise<T[]> {
  const items: T[] = [];
  let pageToken = '';
  for (let page = 0; page < 1000; page += 1) {
    const pageUrl = new URL(url);
    if (pageToken !== '') pageUrl.searchParams.set('pageToken', pageToken);
    const answer = await getJson(pageUrl.toString());
    const record = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
    const list = record[field];
    if (list !== undefined && !Array.isArray(list)) throw new Error(`GET ${url}: "${field}" is not a list`);
    items.push(...((list ?? []) as T[]));
    pageToken = typeof record.nextPageToken === 'string' ? record.nextPageToken : '';
    if (pageToken === '') return items;
  }
  throw new Error(`GET ${url}: more than 1000 pages`);
}

/**
 * What the folder holds: all functions, service accounts and triggers, and the versions of the
 * functions named in `functionNames` (other functions' versions are not fetched).
 */
export async function fetchObservedDeployment(
  getJson: GetJson,
  folderId: string,
  functionNames: readonly string[],
): Promise<ObservedDeployment> {
  const folder = encodeURIComponent(folderId);
  const functions = await listAll<CloudFunction>(
    getJson,
    `${API.functions}/functions?folderId=${folder}`,
    'functions',
  );
  const versions: Record<string, readonly FunctionVersion[]> = {};
  for (const fn of functions.filter((f) => functionNames.includes(f.name))) {
    versions[fn.id] = await listAll<FunctionVersion>(
      getJson,
      `${API.functions}/versions?functionId=${encodeURIComponent(fn.id)}&pageSize=1000`,
      'versions',
    );
  }
  const triggers = await listAll<CloudTrigger>(
    getJson,
    `${API.triggers}/triggers?folderId=${folder}`,
    'triggers',
  );
  const serviceAccounts = await listAll<ServiceAccount>(
    getJson,
    `${API.iam}/serviceAccounts?folderId=${folder}&pageSize=1000`,
    'serviceAccounts',
  );
  return { functions, versions, triggers, serviceAccounts };
}

function apiMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? `: ${body.message}` : '';
  } catch {
    return '';
  }
}
