// The credential typed once, kept for this browser tab only (sessionStorage: gone when the tab closes,
// never sent anywhere but in the API calls' headers, never put in the address).

import type { Credential, CredentialKind } from './api-client.ts';

const KEY = 'datasphere-runner.credential';

export function loadCredential(): Credential | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Partial<Credential> | null;
    if (saved === null || typeof saved.value !== 'string' || saved.value === '') return undefined;
    const kind: CredentialKind = saved.kind === 'iam-token' ? 'iam-token' : 'api-key';
    return { kind, value: saved.value };
  } catch {
    return undefined;
  }
}

export function saveCredential(credential: Credential | undefined): void {
  try {
    if (credential === undefined) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, JSON.stringify(credential));
  } catch {
    // Storage refused (private mode, quota): the credential still works until the page is reloaded.
  }
}

/** "API key …f3a9": enough to tell which one is in use, never the whole secret. */
export function describeCredential(credential: Credential): string {
  const tail = credential.value.length > 8 ? credential.value.slice(-4) : '';
  return `${credential.kind === 'iam-token' ? 'IAM token' : 'API key'} ${tail === '' ? '(set)' : `…${tail}`}`;
}
