/** Where the transport gets the IAM token for each attempt (it may change between retries). */
export interface TokenSource {
  getToken(signal?: AbortSignal): Promise<string>;
}

/** A TokenSource that always answers `token` (tests, local runs). */
export function staticTokenSource(token: string): TokenSource {
  return { getToken: async () => token };
}
