// Types for the two undici files shared/api/undici-dispatcher.ts imports directly (undici's own .d.ts
// files describe only the package entry, which is deliberately not imported: it loads all of undici).
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';

  const request: Dispatcher['request'];
  export default request;
}
