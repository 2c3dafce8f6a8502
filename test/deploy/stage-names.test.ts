import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allNames, STAGE_PATTERN, stageNames } from '../../deploy/stage-names.ts';

describe('stage names', () => {
  it('put the stage into the name of every resource the deploy creates', () => {
    const names = stageNames('datasphere-runner', 'test');
    for (const name of allNames(names)) assert.match(name, /^datasphere-runner-test(-|$)/);
    assert.equal(names.functions.check, 'datasphere-runner-test-check');
    assert.equal(names.accounts.functions, 'datasphere-runner-test-functions');
    assert.equal(names.triggers.sweep, 'datasphere-runner-test-sweep');
    assert.equal(names.queues['dead-letters'], 'datasphere-runner-test-dead-letters');
    assert.equal(names.gateway, 'datasphere-runner-test');
  });

  it('never give two stages the same name, however the stages are spelled', () => {
    const stages = ['prod', 'prod2', 'p', 'test', 'testing', 'a1', 'a12', 'functions', 'sweep', 'runs'];
    const seen = new Map<string, string>();
    for (const stage of stages) {
      for (const name of allNames(stageNames('datasphere-runner', stage))) {
        assert.equal(seen.get(name), undefined, `${name} of ${stage} is also a name of ${seen.get(name)}`);
        seen.set(name, stage);
      }
    }
  });

  it("keep every name within the APIs' 63 characters for the longest stage", () => {
    const names = stageNames('datasphere-runner', 'a'.repeat(16));
    for (const name of allNames(names)) assert.ok(name.length <= 63, name);
  });

  it('refuse a stage that cannot be part of a name', () => {
    for (const stage of ['', 'Prod', 'pro-d', '1prod', 'a'.repeat(17), 'prod_1']) {
      assert.equal(STAGE_PATTERN.test(stage), false, stage);
      assert.throws(() => stageNames('datasphere-runner', stage), /use 1-16 lower-case letters and digits/);
    }
  });
});
