/** A webhook receiver on 127.0.0.1:0 that records every report and can refuse some of them. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from './harness.ts';

export interface ReceivedReport {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The parsed body (undefined when it is not JSON). */
  readonly json: Json | undefined;
  /** The status this receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks/runs` */
  readonly url: string;
  readonly received: ReceivedReport[];
  /** Reports about these run ids are answered with `failStatus` (and `failBody`). */
  readonly failing: Set<string>;
  failStatus: number;
  failBody: string;
  /** How long each answer is held back (a slow receiver). */
  delayMs: number;
  /** Reports received about one run. */
  about(runId: string): ReceivedReport[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedReport[] = [];
  const failing = new Set<string>();
  const receiver = {
    failStatus: 503,
    failBody: 'unavailable',
    delayMs: 0,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Json | undefined;
      try {
        json = JSON.parse(body) as Json;
      } catch {
        json = undefined;
      }
      const fail = typeof json?.run?.runId === 'string' && failing.has(json.run.runId);
      const status = fail ? receiver.failStatus : 204;
      received.push({ headers: req.headers, body, json, status });
      setTimeout(() => {
        if (fail) res.writeHead(status, { 'content-type': 'text/plain' }).end(receiver.failBody);
        else res.writeHead(204).end();
      }, receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hooks/runs`,
    received,
    failing,
    about: (runId: string) => received.filter((report) => report.json?.run?.runId === runId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
