import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodySnippet } from '../../shared/api/api-error.ts';
import { redactSecrets } from '../../shared/redact.ts';

const IAM = `t1.9euelZqKyc2Nk5GSj5Wdm8_Kx5aQ-3rnes6fkZuNzpHPkpaeyJCcnZvOm5aXx5aWzg.${'A'.repeat(86)}==`;

describe('redactSecrets', () => {
  it('masks IAM tokens in the documented format and looser t1. strings', () => {
    const out = redactSecrets(`token ${IAM} and t1.test-token and (t1.x)`);
    assert.ok(!out.includes('9euelZq'));
    assert.ok(!out.includes('test-token'));
    assert.equal(out, 'token t1.[REDACTED] and t1.[REDACTED] and (t1.[REDACTED])');
  });

  it('masks any bearer, basic or Api-Key credential', () => {
    assert.equal(redactSecrets('Authorization: Bearer abc.def'), 'Authorization: Bearer [REDACTED]');
    assert.equal(redactSecrets('authorization: bearer xyz'), 'authorization: bearer [REDACTED]');
    assert.equal(redactSecrets('Api-Key AQVN123'), 'Api-Key [REDACTED]');
  });

  it('masks session tokens and access tokens in JSON, even with escaped quotes', () => {
    assert.equal(
      redactSecrets('{"projectUrl":"https://x","sessionToken":"se\\"cret","a":1}'),
      '{"projectUrl":"https://x","sessionToken":"[REDACTED]","a":1}',
    );
    assert.equal(
      redactSecrets('{"access_token": "abc", "expires_in": 43200, "token_type": "Bearer"}'),
      '{"access_token": "[REDACTED]", "expires_in": 43200, "token_type": "Bearer"}',
    );
    assert.equal(redactSecrets('{"iamToken":"zzz"}'), '{"iamToken":"[REDACTED]"}');
  });

  it('masks secrets in query strings and prose', () => {
    assert.equal(redactSecrets('GET /ide?sessionToken=abc&x=1'), 'GET /ide?sessionToken=[REDACTED]&x=1');
    assert.equal(redactSecrets('access_token: abc'), 'access_token: [REDACTED]');
  });

  it('masks Yandex OAuth tokens', () => {
    assert.equal(redactSecrets('y0_AgAAAAAAbcdefghijklmnopqrstuv'), '[REDACTED]');
  });

  it('leaves ordinary text alone and is idempotent', () => {
    const plain =
      'Project.Execute failed: 403 PERMISSION_DENIED (code 7): no access to project bt1q7c5m2k9r4v0h8e3s';
    assert.equal(redactSecrets(plain), plain);
    const once = redactSecrets(`Bearer ${IAM} {"sessionToken":"s"}`);
    assert.equal(redactSecrets(once), once);
  });
});

describe('bodySnippet', () => {
  it('turns an HTML error page into one short line of text', () => {
    const html =
      '<html>\n<head><title>502 Bad Gateway</title><style>b{}</style></head>\n<body><h1>502 Bad Gateway</h1></body></html>';
    assert.equal(bodySnippet(html), '502 Bad Gateway 502 Bad Gateway');
  });
  it('cuts long bodies, removes control characters and redacts', () => {
    const out = bodySnippet(`oops\u0000\u0007 Bearer abc ${'x'.repeat(500)}`, 50);
    assert.equal(out.length, 50);
    assert.ok(out.startsWith('oops Bearer [REDACTED] x'));
    assert.ok(out.endsWith('…'));
  });
  it('masks a secret-named member whose value never closes or is not quoted (a cut-off or broken body)', () => {
    const cut = '{"projectUrl":"https://ide/p1","sessionToken":"sess-Zq81xK0pL2mN4bV6cX8';
    assert.equal(bodySnippet(cut), '{"projectUrl":"https://ide/p1","sessionToken":"[REDACTED]');
    assert.equal(bodySnippet(`${cut}\\`), '{"projectUrl":"https://ide/p1","sessionToken":"[REDACTED]');
    assert.equal(
      bodySnippet('{"sessionToken": sess-Zq81xK0pL2mN4bV6cX8, "projectUrl":"https://ide/p1"}'),
      '{"sessionToken": [REDACTED], "projectUrl":"https://ide/p1"}',
    );
    // Well-formed members are redactSecrets' work, and stay readable around it.
    assert.equal(bodySnippet('{"sessionToken":"s","a":"b"}'), '{"sessionToken":"[REDACTED]","a":"b"}');
  });
});
