import type { CloudHttp } from './cloud-http.ts';

/** Every item of a paginated REST list (`pageToken` / `nextPageToken`), in order. */
export async function listAll<T>(http: CloudHttp, url: string, field: string): Promise<T[]> {
  const items: T[] = [];
  let pageToken = '';
  for (let page = 0; page < 1000; page += 1) {
    const pageUrl = new URL(url);
    if (pageToken !== '') pageUrl.searchParams.set('pageToken', pageToken);
    const answer = await http.call('GET', pageUrl.toString());
    const list = answer[field];
    if (list !== undefined && !Array.isArray(list)) {
      throw new Error(`GET ${url.replace(/\?.*$/, '')}: "${field}" is not a list`);
    }
    items.push(...((list ?? []) as T[]));
    pageToken = typeof answer.nextPageToken === 'string' ? answer.nextPageToken : '';
    if (pageToken === '') return items;
  }
  throw new Error(`GET ${url.replace(/\?.*$/, '')}: more than 1000 pages`);
}

/** Every resource of the deploy's folder in the collection at `collectionUrl` (`?folderId=`), all pages. */
export function listInFolder<T>(
  ctx: { readonly http: CloudHttp; readonly folderId: string },
  collectionUrl: string,
  field: string,
): Promise<T[]> {
  return listAll<T>(
    ctx.http,
    `${collectionUrl}?folderId=${encodeURIComponent(ctx.folderId)}&pageSize=1000`,
    field,
  );
}
