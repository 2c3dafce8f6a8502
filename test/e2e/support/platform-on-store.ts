/**
 * One platform per ledger store, for a `describe` of the reliability tests: a temp dir, a fresh store of
 * that kind (support/stores.ts), when asked a clock the test moves forward and a webhook receiver, and
 * the harness running the file's built bundles with all of them in the functions' environment. Started
 * in the suite's `before`, closed in its `after`. Call it inside a `describe`: on Node 20 a file's top-level
 * `before` hooks run at the same time, so at top level it would not wait for bundlesForTestFile's build.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { timerEvent } from '../../../local/cloud-events.ts';
import type { EmulatorOptions } from '../../../local/emulator/emulator.ts';
import type { InvokeResult } from '../../../local/platform.ts';
import { type ClockControl, clockControl } from './clock-control.ts';
import { type BuiltBundles, type Harness, type Json, PROJECT, startHarness, tempDir } from './harness.ts';
import { closeStores, openTestStore, type StoreName, type TestStore } from './stores.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

export interface PlatformOnStoreOptions {
  readonly bundles: () => BuiltBundles;
  readonly store: StoreName;
  /** Prefix of the suite's temp dir (the file store, the clock file). */
  readonly dirPrefix: string;
  /**
   * The functions' environment besides the store's; ALLOWED_PROJECTS is PROJECT unless given. A function
   * is read when the platform starts (for values known only then, e.g. a server started in an earlier
   * `before`).
   */
  readonly env?: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>);
  readonly emulator?: EmulatorOptions;
  /** The functions follow a clock the test moves forward (support/clock-control.ts). */
  readonly movableClock?: boolean;
  /** Reports go to a webhook receiver (NOTIFY_WEBHOOK_URL); `delayMs` holds back each of its answers. */
  readonly webhook?: boolean | { readonly delayMs: number };
}

export interface PlatformOnStore {
  harness(): Harness;
  store(): TestStore;
  /** Only with `movableClock`. */
  clock(): ClockControl;
  /** Only with `webhook`. */
  webhook(): WebhookReceiver;
  /** The stored record of `runId` (every field, not only the public ones); asserts there is one. */
  read(runId: string): Promise<Json>;
  /** One sweep by the platform's own check instance. */
  sweep(): Promise<InvokeResult>;
}

export function platformOnStore(options: PlatformOnStoreOptions): PlatformOnStore {
  let dir: ReturnType<typeof tempDir> | undefined;
  let store: TestStore | undefined;
  let clock: ClockControl | undefined;
  let webhook: WebhookReceiver | undefined;
  let harness: Harness | undefined;

  before(async () => {
    dir = tempDir(options.dirPrefix);
    if (options.movableClock === true) clock = clockControl(dir.path);
    if (options.webhook !== undefined && options.webhook !== false) {
      webhook = await startWebhookReceiver();
      if (options.webhook !== true) webhook.delayMs = options.webhook.delayMs;
    }
    store = await openTestStore(options.store, dir.path);
    harness = await startHarness({
      distDir: options.bundles().distDir,
      env: {
        ...store.env,
        ...clock?.env,
        ALLOWED_PROJECTS: PROJECT,
        ...(webhook === undefined ? {} : { NOTIFY_WEBHOOK_URL: webhook.url }),
        ...(typeof options.env === 'function' ? options.env() : options.env),
      },
      ...(options.emulator === undefined ? {} : { emulator: options.emulator }),
    });
  });
  after(async () => {
    await harness?.close();
    await webhook?.close();
    await closeStores();
    dir?.remove();
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(what);
    return value;
  };
  const platform: PlatformOnStore = {
    harness: () => started(harness, 'the platform did not start'),
    store: () => started(store, 'the store was not opened'),
    clock: () => started(clock, 'no movable clock (movableClock)'),
    webhook: () => started(webhook, 'the webhook did not start'),
    async read(runId) {
      const record = await platform.store().readRun(runId);
      assert.ok(record, `run ${runId} is in the ledger`);
      return record as Json;
    },
    sweep: () => platform.harness().platform.invoke('check', timerEvent()),
  };
  return platform;
}
