// The few types bench/sdk-handler.ts uses from @yandex-cloud/nodejs-sdk 3.2.0, so that the project
// type-checks without the SDK in its node_modules (the bench installs it on demand into a temp dir).
declare module '@yandex-cloud/nodejs-sdk' {
  export class Session {
    constructor(config?: { iamToken?: string; oauthToken?: string });
    client<C>(clientClass: C, customEndpoint?: string): SdkClient<C>;
  }
  /** The wrapped client of a generated service client class (only Execute is typed here). */
  export type SdkClient<_C> = {
    execute(request: unknown): Promise<{ id: string; done: boolean }>;
  };
}

declare module '@yandex-cloud/nodejs-sdk/datasphere-v2' {
  export namespace projectService {
    const ProjectServiceClient: unknown;
    const ProjectExecutionRequest: {
      fromPartial(request: {
        projectId: string;
        notebookId: string;
        inputVariables?: Record<string, unknown>;
        outputVariableNames?: string[];
        spec?: string;
        sparkConnectorId?: string;
      }): unknown;
    };
  }
}
