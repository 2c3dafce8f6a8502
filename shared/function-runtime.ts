import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import { DataSphereClient } from './api/datasphere-client.ts';
import { createHttpTransport } from './api/http-transport.ts';
import { OperationClient } from './api/operation-client.ts';
import { createTokenProvider, type TokenContext } from './api/token-provider.ts';
import type { TokenSource } from './api/token-source.ts';
import { createDispatcher } from './api/undici-dispatcher.ts';
import { type Config, loadConfig } from './config.ts';
import type { CoreDeps, NotifierPort } from './core/ports.ts';
import { ConfigError } from './errors.ts';
import { type LedgerSpec, openLedger } from './ledger/open-ledger.ts';
import { redactingLedger } from './ledger/redacting-ledger.ts';
import type { RunLedger } from './ledger/run-ledger.ts';
import { createLogger, type Logger } from './log.ts';
import type { MetricsSink, MetricsSinkFactory } from './metrics/monitoring-writer.ts';
import { abortableSleep as sleep } from './net/transient-failure.ts';
import { buildNotification } from './notify/notification.ts';
import { buildSenders, createNotifier } from './notify/notifier.ts';
import { redactingNotifier } from './notify/redacting-notifier.ts';
import { createRedactor, type Redactor } from './redact.ts';

/**
 * The composition root of a function instance: config read once, one keep-alive dispatcher, the API
 * clients, the ledger and the notifier, all created at most once per warm container and reused by
 * every invocation. Handlers get per-invocation `CoreDeps` from `depsFor(context)`.
 *
 * A bad setting does not crash module load (the platform would answer callers with a stack trace):
 * it is logged loudly at cold start and every invocation fails with the same CONFIG_ERROR naming it.
 */

export interface InvocationContext extends TokenContext {
  readonly requestId?: string;
  readonly functionName?: string;
  readonly getRemainingTimeInMillis?: () => number;
}

export interface RuntimeOptions {
  /** Only the check function delivers reports. */
  readonly notify?: boolean;
  /**
   * Only the check function writes metrics: it passes the sink factory, so the other bundles do not
   * carry the metrics code. Used when METRICS_FOLDER_ID is set.
   */
  readonly metrics?: MetricsSinkFactory;
  readonly dispatcher?: Dispatcher;
  readonly now?: () => Date;
  readonly write?: (line: string) => void;
  readonly cwd?: string;
}

export interface FunctionRuntime {
  /** The logger (works even when the config is bad). */
  readonly log: Logger;
  /** Knows every secret this instance holds, configured or obtained, and masks them by value. */
  readonly redactor: Redactor;
  /** Called first in every invocation: learns the invocation's context token. */
  enter(context: InvocationContext | undefined): void;
  /** The config, or throws the ConfigError found at cold start. */
  config(): Config;
  /** Everything the core needs for one invocation. */
  depsFor(context: InvocationContext | undefined): CoreDeps;
  /** An AbortSignal that fires `marginMs` before the invocation's time runs out. */
  deadlineSignal(context: InvocationContext | undefined, marginMs?: number): AbortSignal | undefined;
  /** Where sweep metrics go; undefined when they are off (no METRICS_FOLDER_ID, or not the check function). */
  metrics(): MetricsSink | undefined;
  close(): Promise<void>;
}

export function createFunctionRuntime(
  env: Readonly<Record<string, string | undefined>>,
  options: RuntimeOptions = {},
): FunctionRuntime {
  const now = options.now ?? (() => new Date());
  let config: Config | undefined;
  let configError: ConfigError | undefined;
  try {
    config = loadConfig(env, options.cwd === undefined ? {} : { cwd: options.cwd });
  } catch (error) {
    configError =
      error instanceof ConfigError
        ? error
        : new ConfigError('environment', (error as Error).message, { cause: error });
  }
  // Before the logger, so that even the line about a bad configuration is scrubbed.
  const redactor = createRedactor(configuredSecrets(env, config));
  const log = createLogger({
    level: config?.logLevel ?? 'info',
    now,
    redactor,
    ...(options.write === undefined ? {} : { write: options.write }),
  });
  if (configError !== undefined) log.error('invalid configuration', { error: configError });

  let built:
    | {
        config: Config;
        dispatcher: Dispatcher;
        ownsDispatcher: boolean;
        datasphere: DataSphereClient;
        operations: OperationClient;
        ledger: RunLedger;
        notifier: NotifierPort | undefined;
        metrics: MetricsSink | undefined;
      }
    | undefined;
  // The latest invocation's service-account token. All invocations of a function version run as the
  // same service account, so the freshest one serves shared clients (and the ledger) until it expires.
  let contextToken: { token: string; expiresAt: number } | undefined;

  const getConfig = (): Config => {
    if (config === undefined) throw configError ?? new ConfigError('environment', 'could not be read');
    return config;
  };

  const build = () => {
    if (built !== undefined) return built;
    const cfg = getConfig();
    // A socket per call the sweep has in flight (CHECK_CONCURRENCY, at least the default 32).
    const dispatcher =
      options.dispatcher ?? createDispatcher({ connections: Math.max(32, cfg.checkConcurrency) });
    const tokens = createTokenProvider({ env, dispatcher });
    const fallback = tokens.forContext(undefined);
    const token: TokenSource = {
      getToken: async (signal) =>
        contextToken !== undefined && contextToken.expiresAt > Date.now()
          ? contextToken.token
          : // A metadata-service token is learned as it is obtained.
            redactor.learn(await fallback.getToken(signal)),
    };
    const transport = createHttpTransport({ dispatcher, token, sleep });
    const notifier =
      options.notify === true
        ? adaptNotifier(
            createNotifier(
              buildSenders(
                {
                  ...(cfg.webhook === undefined
                    ? {}
                    : {
                        webhook: {
                          url: cfg.webhook.url,
                          secretHeader: cfg.webhook.secretHeader,
                          ...(cfg.webhook.secret === undefined ? {} : { secret: cfg.webhook.secret }),
                        },
                      }),
                  ...(cfg.queue === undefined
                    ? {}
                    : { queue: { queueUrl: cfg.queue.url, credentials: cfg.queue.keys } }),
                },
                { dispatcher },
              ),
            ),
            redactor,
          )
        : undefined;
    built = {
      config: cfg,
      dispatcher,
      ownsDispatcher: options.dispatcher === undefined,
      datasphere: new DataSphereClient({ transport, endpoint: cfg.datasphereEndpoint }),
      operations: new OperationClient({ transport, endpoint: cfg.operationEndpoint }),
      ledger: redactingLedger(
        openLedger(ledgerSpec(cfg, token), {
          dispatcher,
          // A damaged record is set aside by the store, which has no logger: say so, naming it.
          onUnreadable: (record) => log.error('unreadable run record set aside', { ...record }),
        }),
        redactor,
      ),
      notifier,
      metrics:
        options.metrics === undefined || cfg.metrics === undefined
          ? undefined
          : options.metrics({ config: cfg.metrics, dispatcher, token, log }),
    };
    return built;
  };

  const learnContextToken = (context: InvocationContext | undefined): void => {
    const access = context?.token?.access_token;
    if (typeof access === 'string') redactor.learn(access);
  };

  return {
    log,
    redactor,
    config: getConfig,
    enter: learnContextToken,
    depsFor(context) {
      const parts = build();
      learnContextToken(context);
      const access = context?.token?.access_token;
      if (typeof access === 'string' && access !== '') {
        const lifetimeMs = (context?.token?.expires_in ?? 600) * 1000;
        contextToken = { token: access, expiresAt: Date.now() + Math.max(0, lifetimeMs - 60_000) };
      }
      const requestId = context?.requestId;
      return {
        ledger: parts.ledger,
        datasphere: parts.datasphere,
        operations: parts.operations,
        settings: parts.config,
        log: requestId === undefined ? log : log.child({ request_id: requestId }),
        now,
        sleep,
        ...(parts.notifier === undefined ? {} : { notifier: parts.notifier }),
      };
    },
    deadlineSignal(context, marginMs = 5_000) {
      const remaining = context?.getRemainingTimeInMillis?.();
      if (typeof remaining !== 'number' || !Number.isFinite(remaining)) return undefined;
      const signal = AbortSignal.timeout(Math.max(1, remaining - marginMs));
      // One sweep has up to CHECK_CONCURRENCY calls listening on it at once; that is not a leak.
      setMaxListeners(0, signal);
      return signal;
    },
    metrics: () => build().metrics,
    async close() {
      if (built === undefined) return;
      await built.ledger.close?.();
      if (built.ownsDispatcher) await built.dispatcher.close();
      built = undefined;
    },
  };
}

/**
 * The secrets of the configuration, known from cold start: the fallback IAM token, the webhook secret,
 * the static keys of Message Queue and the Document API. Read from the environment as well, so that they
 * are hidden even when the configuration as a whole is invalid.
 */
function configuredSecrets(
  env: Readonly<Record<string, string | undefined>>,
  config: Config | undefined,
): (string | undefined)[] {
  return [
    env.YC_IAM_TOKEN?.trim(),
    env.NOTIFY_WEBHOOK_SECRET,
    env.NOTIFY_QUEUE_ACCESS_KEY_ID,
    env.NOTIFY_QUEUE_SECRET_ACCESS_KEY,
    env.AWS_ACCESS_KEY_ID,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    config?.webhook?.secret,
    config?.queue?.keys.accessKeyId,
    config?.queue?.keys.secretAccessKey,
    config?.storeKeys?.accessKeyId,
    config?.storeKeys?.secretAccessKey,
  ];
}

function adaptNotifier(
  plain: ReturnType<typeof createNotifier>,
  redactor: Redactor,
): NotifierPort | undefined {
  if (plain.destinations.length === 0) return undefined;
  const notifier = redactingNotifier(plain, redactor);
  return {
    destinations: notifier.destinations,
    // The report carries the record as it was when it ended, so a retried delivery sends the same bytes
    // (later bookkeeping only moves updatedAt).
    deliver: (destination, record, signal) =>
      notifier.deliver(
        destination,
        buildNotification({ ...record, updatedAt: record.finishedAt ?? record.updatedAt }),
        signal,
      ),
  };
}

/** The Document API signs with static keys when they are set, else sends the IAM token (design.md §3). */
function ledgerSpec(cfg: Config, token: TokenSource): LedgerSpec {
  const store = cfg.runStore;
  if (store.kind === 'file') return store;
  const auth =
    cfg.storeKeys === undefined
      ? ({ kind: 'bearer', token: () => token.getToken() } as const)
      : ({
          kind: 'sigv4',
          accessKeyId: cfg.storeKeys.accessKeyId,
          secretAccessKey: cfg.storeKeys.secretAccessKey,
        } as const);
  return { kind: 'docapi', endpoint: store.endpoint, table: store.table, auth };
}
