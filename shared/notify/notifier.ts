import type { Dispatcher } from 'undici';
import { ConfigError, isRunnerError, RunnerError } from '../errors.ts';
import type { RunNotification } from './notification.ts';
import { createQueueSender, type QueueSenderOptions } from './queue-sender.ts';
import type { Sender } from './sender.ts';
import { createWebhookSender, type WebhookSenderOptions } from './webhook-sender.ts';

/** Delivers notifications to named destinations; knows nothing of runs, ledgers or retries across sweeps. */
export interface Notifier {
  /** Names of the configured destinations, in a stable order (`webhook` before `queue`). */
  readonly destinations: readonly string[];
  /**
   * Sends `notification` to the destination `name`. Resolves once it accepted it; rejects with a
   * RunnerError `NOTIFY_ERROR` otherwise (an unknown name included).
   */
  deliver(name: string, notification: RunNotification, signal?: AbortSignal): Promise<void>;
}

/** Groups senders by name. Two senders with one name are a configuration bug (ConfigError). */
export function createNotifier(senders: readonly Sender[]): Notifier {
  const byName = new Map<string, Sender>();
  for (const sender of senders) {
    if (byName.has(sender.name)) {
      throw new ConfigError('notify', `two notification destinations are both named "${sender.name}"`);
    }
    byName.set(sender.name, sender);
  }
  const destinations = Object.freeze([...byName.keys()]);
  return {
    destinations,
    async deliver(name, notification, signal) {
      const sender = byName.get(name);
      if (sender === undefined) {
        throw new RunnerError('NOTIFY_ERROR', `no notification destination named "${name}" is configured`, {
          details: { destination: name, retryable: false },
        });
      }
      try {
        await sender.send(notification, signal);
      } catch (error) {
        if (isRunnerError(error)) throw error;
        // A sender bug must still come out as a delivery failure the core records, not a crash.
        const problem = error instanceof Error ? error.message : String(error);
        throw new RunnerError('NOTIFY_ERROR', `${name}: unexpected failure (${problem})`, {
          cause: error,
          details: { destination: name, retryable: true },
        });
      }
    },
  };
}

/** Injected into both senders; everything else comes from configuration. */
export interface SenderDeps {
  readonly dispatcher: Dispatcher;
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  readonly random?: (() => number) | undefined;
  readonly now?: (() => number) | undefined;
}

type Injected = 'dispatcher' | 'sleep' | 'random' | 'now';

/** Destination settings (from configuration only). Absent = that destination is off. */
export interface NotifyConfig {
  readonly webhook?: Omit<WebhookSenderOptions, Injected> | undefined;
  readonly queue?: Omit<QueueSenderOptions, Injected> | undefined;
}

/** The senders for the configured destinations: none, the webhook, the queue, or both. */
export function buildSenders(config: NotifyConfig, deps: SenderDeps): Sender[] {
  const injected = {
    dispatcher: deps.dispatcher,
    ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
  };
  const senders: Sender[] = [];
  if (config.webhook !== undefined) senders.push(createWebhookSender({ ...config.webhook, ...injected }));
  if (config.queue !== undefined) senders.push(createQueueSender({ ...config.queue, ...injected }));
  return senders;
}
