import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { isRunnerError } from '../../shared/errors.ts';
import { buildNotification, type RunNotification } from '../../shared/notify/notification.ts';
import { buildSenders, createNotifier } from '../../shared/notify/notifier.ts';
import type { Sender } from '../../shared/notify/sender.ts';
import { finishedRecord } from './run-fixture.ts';

const notification = buildNotification(finishedRecord());

function fakeSender(
  name: string,
  behaviour: (n: RunNotification) => void = () => {},
): Sender & { got: RunNotification[] } {
  const got: RunNotification[] = [];
  return {
    name,
    got,
    async send(n) {
      got.push(n);
      behaviour(n);
    },
  };
}

describe('createNotifier', () => {
  it('lists the destinations and delivers to the named one only', async () => {
    const webhook = fakeSender('webhook');
    const queue = fakeSender('queue');
    const notifier = createNotifier([webhook, queue]);
    assert.deepEqual(notifier.destinations, ['webhook', 'queue']);
    await notifier.deliver('queue', notification);
    assert.deepEqual(queue.got, [notification]);
    assert.deepEqual(webhook.got, []);
  });

  it('has no destinations without senders', () => {
    assert.deepEqual(createNotifier([]).destinations, []);
  });

  it('rejects an unknown destination with NOTIFY_ERROR', async () => {
    await assert.rejects(
      createNotifier([fakeSender('webhook')]).deliver('email', notification),
      (error) => isRunnerError(error) && error.code === 'NOTIFY_ERROR' && /email/.test(error.message),
    );
  });

  it('passes a sender RunnerError through and turns any other throw into NOTIFY_ERROR', async () => {
    const broken = fakeSender('webhook', () => {
      throw new TypeError('undefined is not a function');
    });
    await assert.rejects(
      createNotifier([broken]).deliver('webhook', notification),
      (error) =>
        isRunnerError(error) &&
        error.code === 'NOTIFY_ERROR' &&
        error.message === 'webhook: unexpected failure (undefined is not a function)',
    );
  });

  it('refuses two destinations with one name', () => {
    assert.throws(
      () => createNotifier([fakeSender('webhook'), fakeSender('webhook')]),
      /both named "webhook"/,
    );
  });
});

describe('buildSenders', () => {
  const dispatcher = new Agent();
  after(() => dispatcher.close());

  it('builds nothing when no destination is configured', () => {
    assert.deepEqual(buildSenders({}, { dispatcher }), []);
  });

  it('builds the webhook and the queue sender from configuration, webhook first', () => {
    const senders = buildSenders(
      {
        webhook: {
          url: 'https://hooks.example.com/runner',
          secret: 'whsec-1',
          secretHeader: 'X-Runner-Secret',
        },
        queue: {
          queueUrl: 'https://message-queue.api.cloud.yandex.net/b1g/dj6/reports',
          credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret-key' },
        },
      },
      { dispatcher },
    );
    assert.deepEqual(
      senders.map((s) => s.name),
      ['webhook', 'queue'],
    );
  });

  it('fails loudly on a bad destination setting', () => {
    assert.throws(
      () => buildSenders({ webhook: { url: 'mailto:ops@example.com' } }, { dispatcher }),
      (error) => isRunnerError(error) && error.code === 'CONFIG_ERROR',
    );
  });
});
