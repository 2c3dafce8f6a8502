import { isApiError } from './api-error.ts';

/**
 * Two routes for one method where the sources disagree which one the gateway serves (Project.Open's
 * `:open` and `/open`, Operation.Cancel by GET or POST; api.md §2.2, §4): the client tries its current
 * choice and falls back to the other only when the answer says the ROUTE is missing, never when it
 * says the RESOURCE is (a project or operation that does not exist, or is not visible yet). A route is
 * remembered only once it answered 2xx, so a NOT_FOUND can never flip the choice of a warm instance.
 *
 * The route is missing when the answer is 404, 405 or 501 and is not a google.rpc Status naming the
 * resource: a Status names it when a `google.rpc.ResourceInfo` detail is present, or when its message
 * holds the resource's id outside a request path ("Project p1 not found" names p1; a gateway's
 * "Unknown method: POST /datasphere/v2/projects/p1/open" does not). Once the current route has
 * answered 2xx, a 404 from it is about the resource whatever it says (only 405/501 still mean the route
 * went away). When both routes answer, the first answer is reported unless the second says more (a
 * Status naming the resource, a 5xx…); nothing is remembered then.
 */
export class RouteChoice<R extends string> {
  readonly #routes: readonly [R, R];
  #current: R;
  #confirmed = false;

  /** `first` is tried first until a 2xx says otherwise. */
  constructor(first: R, second: R) {
    this.#routes = [first, second];
    this.#current = first;
  }

  /** The route tried first now: the initial one, or the one that last answered 2xx after a fallback. */
  get current(): R {
    return this.#current;
  }

  /** Whether `current` has answered 2xx on this instance. */
  get confirmed(): boolean {
    return this.#confirmed;
  }

  /**
   * Sends through the current route and, when that route is missing, once through the other.
   * `resourceIds` are the ids the call is about (project id, operation id).
   */
  async send<T>(resourceIds: readonly string[], attempt: (route: R) => Promise<T>): Promise<T> {
    const first = this.#current;
    let firstError: unknown;
    try {
      const result = await attempt(first);
      this.#confirmed = true;
      return result;
    } catch (error) {
      if (!isRouteMissing(error, resourceIds, this.#confirmed)) throw error;
      firstError = error;
    }
    const second = first === this.#routes[0] ? this.#routes[1] : this.#routes[0];
    let result: T;
    try {
      result = await attempt(second);
    } catch (error) {
      // Both routes refused: a second "route missing" adds nothing to the first answer.
      throw isRouteMissing(error, resourceIds, false) ? firstError : error;
    }
    // Concurrent calls (a sweep cancels many runs at once): if another call proved the first route
    // while this one was falling back, both routes work and the proven one stays.
    if (!(this.#current === first && this.#confirmed)) {
      this.#current = second;
      this.#confirmed = true;
    }
    return result;
  }
}

/** Whether `error` says the route (not the resource) is missing; see RouteChoice. */
export function isRouteMissing(
  error: unknown,
  resourceIds: readonly string[],
  routeConfirmed: boolean,
): boolean {
  if (!isApiError(error) || error.code !== 'API_ERROR') return false;
  const status = error.httpStatus;
  if (status !== 404 && status !== 405 && status !== 501) return false;
  if (status === 404 && routeConfirmed) return false;
  return !namesResource(error, resourceIds);
}

function namesResource(
  error: {
    rpcCode?: number | undefined;
    apiMessage?: string | undefined;
    resourceNames?: readonly string[] | undefined;
  },
  resourceIds: readonly string[],
): boolean {
  if (error.rpcCode === undefined) return false;
  if ((error.resourceNames?.length ?? 0) > 0) return true;
  // Paths (`/datasphere/v2/projects/p1/open`) are where a route's answer quotes the id; drop them first.
  const prose = (error.apiMessage ?? '').replace(/\/\S*/g, ' ');
  return resourceIds.some((id) => id !== '' && containsToken(prose, id));
}

/** `id` as a whole token: not part of a longer id (`p1` is not in `p10`). */
function containsToken(text: string, id: string): boolean {
  for (let at = text.indexOf(id); at !== -1; at = text.indexOf(id, at + 1)) {
    const before = text[at - 1] ?? ' ';
    const after = text[at + id.length] ?? ' ';
    if (!ID_CHAR.test(before) && !ID_CHAR.test(after)) return true;
  }
  return false;
}

const ID_CHAR = /[A-Za-z0-9_-]/;
