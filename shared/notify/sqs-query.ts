/**
 * The SQS query protocol as Yandex Message Queue documents it (yandex-cloud/docs
 * `en/message-queue/api-ref/index.md`): a form-encoded POST with `Action` and `Version=2012-11-05`,
 * answered with XML (`<ActionResponse><ActionResult>…` or `<ErrorResponse><Error><Code>…`).
 */

export const SQS_API_VERSION = '2012-11-05';

/**
 * Encodes form parameters in order, percent-encoding everything but RFC 3986 unreserved characters
 * (spaces as %20, never `+`), as the AWS SDKs do.
 */
export function encodeForm(params: readonly (readonly [string, string])[]): string {
  return params.map(([name, value]) => `${encodeRfc3986(name)}=${encodeRfc3986(value)}`).join('&');
}

function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The form parameters of `MessageAttribute.N.*` for string attributes. */
export function stringAttributes(attributes: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(attributes).flatMap(([name, value], index) => {
    const prefix = `MessageAttribute.${index + 1}`;
    return [
      [`${prefix}.Name`, name],
      [`${prefix}.Value.DataType`, 'String'],
      [`${prefix}.Value.StringValue`, value],
    ] as [string, string][];
  });
}

/** Bytes SQS counts toward the 256 KiB message limit: body plus attribute names, types and values. */
export function messageSize(body: string, attributes: Readonly<Record<string, string>>): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name, 'utf8') + 'String'.length + Buffer.byteLength(value, 'utf8');
  }
  return size;
}

/** Largest message Yandex Message Queue (and SQS) accepts. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * SQS accepts only `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF` in a body.
 * JSON.stringify already escapes control characters and lone surrogates; this also escapes the two
 * non-characters U+FFFE and U+FFFF (only valid inside JSON strings, where `\ufffe` means the same).
 */
export function sqsSafeJson(json: string): string {
  return json.replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

export interface SqsErrorAnswer {
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface SendMessageAnswer {
  readonly messageId?: string | undefined;
  readonly md5OfMessageBody?: string | undefined;
  readonly requestId?: string | undefined;
}

/** Reads a SendMessage answer (XML, or JSON should a server answer in the JSON protocol). */
export function parseSendMessageAnswer(text: string): SendMessageAnswer {
  const json = parseJsonObject(text);
  if (json !== undefined) {
    return {
      messageId: stringField(json, 'MessageId'),
      md5OfMessageBody: stringField(json, 'MD5OfMessageBody'),
    };
  }
  return {
    messageId: xmlElement(text, 'MessageId'),
    md5OfMessageBody: xmlElement(text, 'MD5OfMessageBody'),
    requestId: xmlElement(text, 'RequestId'),
  };
}

/** Reads an error answer: XML `ErrorResponse` or JSON `{"__type", "message"}`. */
export function parseErrorAnswer(text: string): SqsErrorAnswer {
  const json = parseJsonObject(text);
  if (json !== undefined) {
    const type = stringField(json, '__type');
    return {
      // `com.amazonaws.sqs#QueueDoesNotExist` → `QueueDoesNotExist`
      code: type?.includes('#') ? type.slice(type.lastIndexOf('#') + 1) : type,
      message: stringField(json, 'message') ?? stringField(json, 'Message'),
    };
  }
  return {
    code: xmlElement(text, 'Code'),
    message: xmlElement(text, 'Message'),
    requestId: xmlElement(text, 'RequestId'),
  };
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stringField(object: Record<string, unknown>, name: string): string | undefined {
  const value = object[name];
  return typeof value === 'string' ? value : undefined;
}

/** Text of the first `<name>` element (namespace-free, no attributes needed), entities decoded. */
export function xmlElement(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(xml);
  if (match?.[1] === undefined) return undefined;
  const value = decodeXmlText(match[1]).trim();
  return value === '' ? undefined : value;
}

function decodeXmlText(text: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*)\]\]>\s*$/.exec(text);
  if (cdata?.[1] !== undefined) return cdata[1];
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    if (lower === 'amp') return '&';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    const code = lower.startsWith('#x')
      ? Number.parseInt(lower.slice(2), 16)
      : Number.parseInt(lower.slice(1), 10);
    return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}
