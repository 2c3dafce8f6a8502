// The shapes the console reads from the HTTP API (design.md §5-§6), as plain JSON: only what the page
// shows. Every field but the few the API always sends is optional, so an older or newer API still renders.

export interface RunEvent {
  readonly at: string;
  readonly type: string;
  readonly detail?: string;
}

export interface RunView {
  readonly runId: string;
  readonly operationId?: string;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly status: string;
  readonly executionStatus?: string;
  readonly error?: { readonly code: number | string; readonly message: string };
  readonly result?: Readonly<Record<string, string | number | boolean>>;
  readonly createdAt: string;
  readonly updatedAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly deadline?: string;
  readonly trigger?: string;
  readonly action?: string;
  readonly job?: { readonly name: string; readonly slot?: string };
  readonly attempt?: number;
  readonly attempts?: readonly string[];
  /** runId of the next attempt, once it has started. */
  readonly retriedBy?: string;
  /** When the next attempt is due: sent only while it is scheduled and not yet started. */
  readonly retryAt?: string;
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: string;
  readonly events?: readonly RunEvent[];
}

export interface RunPage {
  readonly runs: readonly RunView[];
  readonly nextCursor: string | null;
}
