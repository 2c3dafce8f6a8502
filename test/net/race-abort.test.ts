import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { raceAbort } from '../../shared/net/race-abort.ts';

describe('raceAbort', () => {
  it('answers what the promise answers, and is the promise itself without a signal', async () => {
    const promise = Promise.resolve('token');
    assert.equal(raceAbort(promise, undefined), promise);
    assert.equal(await raceAbort(promise, new AbortController().signal), 'token');
    await assert.rejects(
      raceAbort(Promise.reject(new Error('refused')), new AbortController().signal),
      /refused/,
    );
  });

  it("rejects with the signal's reason when it aborts first, and at once when it already has", async () => {
    const controller = new AbortController();
    let settle: (value: string) => void = () => {};
    const pending = new Promise<string>((resolve) => {
      settle = resolve;
    });
    const waiting = raceAbort(pending, controller.signal);
    controller.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
    settle('late');
    assert.equal(await pending, 'late', 'the work itself goes on');
    await assert.rejects(raceAbort(Promise.resolve('x'), AbortSignal.abort(new Error('gone'))), /gone/);
  });

  it('stops listening once the promise has settled', async () => {
    const controller = new AbortController();
    const added: string[] = [];
    const removed: string[] = [];
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (type: string, ...rest: unknown[]) => {
      added.push(type);
      return (add as (...args: unknown[]) => void)(type, ...rest);
    };
    signal.removeEventListener = (type: string, ...rest: unknown[]) => {
      removed.push(type);
      return (remove as (...args: unknown[]) => void)(type, ...rest);
    };
    assert.equal(await raceAbort(Promise.resolve(1), signal), 1);
    await assert.rejects(raceAbort(Promise.reject(new Error('no')), signal), /no/);
    assert.deepEqual(added, ['abort', 'abort']);
    assert.deepEqual(removed, ['abort', 'abort']);
  });
});
