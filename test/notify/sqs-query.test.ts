import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeForm,
  messageSize,
  parseErrorAnswer,
  parseSendMessageAnswer,
  sqsSafeJson,
  stringAttributes,
  xmlElement,
} from '../../shared/notify/sqs-query.ts';

describe('encodeForm', () => {
  it('percent-encodes everything but RFC 3986 unreserved characters, spaces as %20', () => {
    assert.equal(
      encodeForm([
        ['MessageBody', `{"a":"b c+d*e'(f)!~"}`],
        ['QueueUrl', 'https://h/f/q'],
      ]),
      'MessageBody=%7B%22a%22%3A%22b%20c%2Bd%2Ae%27%28f%29%21~%22%7D&QueueUrl=https%3A%2F%2Fh%2Ff%2Fq',
    );
  });

  it('round-trips through a standard form decoder', () => {
    const value = 'ünïcødé ✓ & = + % 😀';
    assert.equal(new URLSearchParams(encodeForm([['v', value]])).get('v'), value);
  });
});

describe('stringAttributes and messageSize', () => {
  it('numbers message attributes from 1 as String values', () => {
    assert.deepEqual(stringAttributes({ deliveryId: 'r:S', type: 'run.finished' }), [
      ['MessageAttribute.1.Name', 'deliveryId'],
      ['MessageAttribute.1.Value.DataType', 'String'],
      ['MessageAttribute.1.Value.StringValue', 'r:S'],
      ['MessageAttribute.2.Name', 'type'],
      ['MessageAttribute.2.Value.DataType', 'String'],
      ['MessageAttribute.2.Value.StringValue', 'run.finished'],
    ]);
  });

  it('counts the body and the attributes in UTF-8 bytes, as SQS does for its 256 KiB limit', () => {
    assert.equal(messageSize('ä', { k: 'v' }), 2 + 1 + 'String'.length + 1);
  });
});

describe('sqsSafeJson', () => {
  it('escapes the two non-characters SQS refuses and leaves everything else alone', () => {
    const json = JSON.stringify({ a: 'x\uFFFEy\uFFFF', b: 'ok ✓' });
    const safe = sqsSafeJson(json);
    assert.doesNotMatch(safe, /[\uFFFE\uFFFF]/);
    assert.deepEqual(JSON.parse(safe), JSON.parse(json));
  });
});

describe('answers', () => {
  it('reads MessageId and RequestId from a SendMessage XML answer', () => {
    const answer = parseSendMessageAnswer(
      '<SendMessageResponse><SendMessageResult><MD5OfMessageBody>3e25</MD5OfMessageBody>' +
        '<MessageId>cddcbbe4-b0571f5c</MessageId></SendMessageResult>' +
        '<ResponseMetadata><RequestId>75eb03b2</RequestId></ResponseMetadata></SendMessageResponse>',
    );
    assert.deepEqual(answer, {
      messageId: 'cddcbbe4-b0571f5c',
      md5OfMessageBody: '3e25',
      requestId: '75eb03b2',
    });
  });

  it('reads a JSON-protocol SendMessage answer too', () => {
    assert.equal(parseSendMessageAnswer('{"MessageId":"m-9","MD5OfMessageBody":"ab"}').messageId, 'm-9');
  });

  it('reads code, message and request id of an XML error, decoding entities', () => {
    assert.deepEqual(
      parseErrorAnswer(
        '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>' +
          '<Message>\n  Value (a&amp;b) for parameter &quot;QueueName&quot; is invalid &#x2713;\n</Message>' +
          '</Error><RequestId>42d59b56</RequestId></ErrorResponse>',
      ),
      {
        code: 'InvalidParameterValue',
        message: 'Value (a&b) for parameter "QueueName" is invalid ✓',
        requestId: '42d59b56',
      },
    );
  });

  it('reads a JSON-protocol error, dropping the namespace of __type', () => {
    assert.deepEqual(
      parseErrorAnswer(
        '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}',
      ),
      { code: 'QueueDoesNotExist', message: 'The specified queue does not exist.' },
    );
  });

  it('finds nothing in a body that is neither', () => {
    assert.deepEqual(parseErrorAnswer('Bad Gateway'), {
      code: undefined,
      message: undefined,
      requestId: undefined,
    });
    assert.equal(xmlElement('<a><b></b></a>', 'b'), undefined);
    assert.equal(xmlElement('<Body><![CDATA[<x>&]]></Body>', 'Body'), '<x>&');
  });
});
