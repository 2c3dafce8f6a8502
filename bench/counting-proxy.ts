// A metering HTTP proxy on 127.0.0.1 for the cost scenarios: forwards every request to a local test
// server (dynalite for the Document API, local-aws-sqs for Message Queue) after an optional latency,
// and hands each exchange, tagged with the phase the bench is in, to a callback. A request may be
// rewritten on the way (the Document API meter asks dynalite for its ConsumedCapacity) as long as the
// answer the function sees is the one it would have had.
import { Agent, createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface Exchange {
  readonly phase: string;
  readonly method: string;
  readonly path: string;
  readonly requestHeaders: IncomingHttpHeaders;
  /** The body as the client sent it (before any rewrite). */
  readonly requestBody: Buffer;
  readonly status: number;
  /** The body as the server answered (before any rewrite back). */
  readonly responseBody: Buffer;
}

export interface ProxyOptions {
  /** Where requests go, e.g. `http://127.0.0.1:4567`. */
  readonly target: string;
  /** Added before forwarding each request (the network the local servers do not have). @default 0 */
  readonly latencyMs?: number;
  /** The bench's current phase (called per request). */
  readonly phase: () => string;
  readonly onExchange: (exchange: Exchange) => void;
  /** Body to forward instead of the client's. */
  readonly rewriteRequest?: (headers: IncomingHttpHeaders, body: Buffer) => Buffer;
  /** Body to answer instead of the server's (given the client's original request body). */
  readonly rewriteResponse?: (requestBody: Buffer, status: number, body: Buffer) => Buffer;
}

export interface CountingProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

export async function startCountingProxy(options: ProxyOptions): Promise<CountingProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const phase = options.phase();
      const requestBody = Buffer.concat(chunks);
      const forwarded = options.rewriteRequest?.(req.headers, requestBody) ?? requestBody;
      if ((options.latencyMs ?? 0) > 0) await delay(options.latencyMs);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      headers.host = target.host;
      headers['content-length'] = String(forwarded.length);
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const status = answer.statusCode ?? 502;
            const responseBody = Buffer.concat(parts);
            options.onExchange({
              phase,
              method: req.method ?? 'GET',
              path: req.url ?? '/',
              requestHeaders: req.headers,
              requestBody,
              status,
              responseBody,
            });
            const body = options.rewriteResponse?.(requestBody, status, responseBody) ?? responseBody;
            const out: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              // The body may have changed: its length and checksum are recomputed or dropped.
              if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'x-amz-crc32') out[name] = value;
            }
            out['content-length'] = String(body.length);
            res.writeHead(status, out).end(body);
          });
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${error.message}`);
      });
      upstream.end(forwarded);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
