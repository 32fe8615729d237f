// A real fake buyer for tests: a node:http server on 127.0.0.1 (port 0) that answers POST /ping
// and POST /post as the behaviour says, records every request, and can misbehave on purpose
// (delay, hang, drip, drop the socket mid-answer, huge bodies). Shared by any test that needs a
// buyer endpoint, so it avoids assumptions about the caller.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** Path including any query string. */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The parsed body, or undefined if it was not JSON. */
  json: unknown;
  /** Epoch ms at which the full request body had arrived. */
  receivedAt: number;
}

export type Reply = {
  /** Default 200, or 204 when neither json nor body is given. */
  status?: number;
  json?: unknown;
  body?: string;
  /** Wait this long before sending anything. */
  delayMs?: number;
  headers?: Record<string, string>;
  /** Send the head at once, then `count` chunks `everyMs` apart, then end (json/body ignored). */
  drip?: { chunk: string; everyMs: number; count: number };
  /** Never answer; close() cleans the socket up. */
  hang?: boolean;
  /**
   * Drop the connection: true or 'mid_body' writes the head and half the body first;
   * 'before_headers' sends nothing at all.
   */
  destroy?: boolean | 'mid_body' | 'before_headers';
  /** Omit content-length and stream the body in pieces (transfer-encoding: chunked). */
  chunked?: boolean;
};

export type Handler = (req: ReceivedRequest) => Reply | Promise<Reply>;

export interface BuyerBehaviour {
  ping?: Handler;
  post?: Handler;
  /** Any other path or method; default 404. */
  other?: Handler;
}

export interface BuyerServer {
  /** http://127.0.0.1:<port> (also the origin). */
  url: string;
  pingUrl: string;
  postUrl: string;
  /** Mutable: swap handlers between steps of a test. */
  behaviour: BuyerBehaviour;
  received: { pings: ReceivedRequest[]; posts: ReceivedRequest[]; other: ReceivedRequest[] };
  /** TCP connections accepted so far (the server's 'connection' events). */
  readonly connections: number;
  close(): Promise<void>;
}

// ---- builders --------------------------------------------------------------------------------

/** Answers `{ bid, bid_id }` with the amount in dollars, as section 4.1 specifies. */
export function bidding(amountDollars: number, opts: { bidId?: string | null; delayMs?: number } = {}): Handler {
  return () => {
    const json: Record<string, unknown> = { bid: amountDollars };
    if (opts.bidId !== null) json.bid_id = opts.bidId ?? 'b-1';
    return opts.delayMs === undefined ? { json } : { json, delayMs: opts.delayMs };
  };
}

export function noBid(): Handler {
  return () => ({ status: 204 });
}

export function accepting(opts: { buyerLeadId?: string | null; redirectUrl?: string | null; delayMs?: number } = {}): Handler {
  return () => {
    const json = { accepted: true, buyer_lead_id: opts.buyerLeadId === undefined ? 'bl-1' : opts.buyerLeadId, redirect_url: opts.redirectUrl ?? null };
    return opts.delayMs === undefined ? { json } : { json, delayMs: opts.delayMs };
  };
}

export function rejecting(reason = 'duplicate'): Handler {
  return () => ({ json: { accepted: false, reason } });
}

/** Always the same reply. */
export function reply(r: Reply): Handler {
  return () => r;
}

/** Each call takes the next handler; the last one repeats. */
export function sequence(...handlers: Handler[]): Handler {
  let index = 0;
  return (req) => {
    const handler = handlers[Math.min(index, handlers.length - 1)];
    index += 1;
    if (handler === undefined) throw new Error('sequence() needs at least one handler');
    return handler(req);
  };
}

// ---- server ----------------------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startBuyerServer(initial: BuyerBehaviour = {}): Promise<BuyerServer> {
  const behaviour: BuyerBehaviour = { ...initial };
  const received = { pings: [] as ReceivedRequest[], posts: [] as ReceivedRequest[], other: [] as ReceivedRequest[] };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  let closing = false;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const wait = (ms: number): Promise<void> => new Promise((resolve) => later(ms, resolve));

  async function respond(res: ServerResponse, r: Reply): Promise<void> {
    if (r.delayMs !== undefined && r.delayMs > 0) await wait(r.delayMs);
    if (closing || res.destroyed) return;
    if (r.hang) return;
    if (r.destroy === 'before_headers') {
      res.socket?.destroy();
      return;
    }

    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    const lowerNames = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
    let payload: string | undefined;
    if (r.json !== undefined) {
      payload = JSON.stringify(r.json);
      if (!lowerNames.has('content-type')) headers['content-type'] = 'application/json';
    } else if (r.body !== undefined) {
      payload = r.body;
    }
    const status = r.status ?? (payload === undefined && r.drip === undefined ? 204 : 200);

    if (r.drip !== undefined) {
      const { chunk, everyMs, count } = r.drip;
      res.writeHead(status, headers);
      res.flushHeaders();
      let sent = 0;
      const tick = (): void => {
        if (closing || res.destroyed) return;
        if (sent >= count) {
          res.end();
          return;
        }
        res.write(chunk);
        sent += 1;
        later(everyMs, tick);
      };
      later(everyMs, tick);
      return;
    }

    if (r.destroy === true || r.destroy === 'mid_body') {
      const text = payload ?? '{"bid": 12.5, "bid_id": "cut-short"}';
      // Promise a full body, deliver half: the client sees a truncated answer, then a reset.
      res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.floor(text.length / 2)), () => {
        later(10, () => res.socket?.destroy());
      });
      return;
    }

    if (payload === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    if (r.chunked) {
      res.writeHead(status, headers);
      const piece = 64 * 1024;
      let offset = 0;
      // Respect backpressure so a 10 MB body is not buffered whole when the client stops reading.
      const pump = (): void => {
        while (offset < payload.length && !res.destroyed) {
          const ok = res.write(payload.slice(offset, offset + piece));
          offset += piece;
          if (!ok) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(payload)) });
    res.end(payload);
  }

  const server = createServer((req, res) => {
    res.on('error', () => {});
    req.on('error', () => {});
    void (async () => {
      const rawBody = await readBody(req);
      let json: unknown;
      try {
        json = rawBody === '' ? undefined : JSON.parse(rawBody);
      } catch {
        json = undefined;
      }
      const record: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        rawBody,
        json,
        receivedAt: Date.now(),
      };
      const pathname = record.path.split('?')[0];
      let handler: Handler | undefined;
      if (req.method === 'POST' && pathname === '/ping') {
        received.pings.push(record);
        handler = behaviour.ping ?? noBid();
      } else if (req.method === 'POST' && pathname === '/post') {
        received.posts.push(record);
        handler = behaviour.post ?? accepting();
      } else {
        received.other.push(record);
        handler = behaviour.other ?? reply({ status: 404, json: { error: 'not found' } });
      }
      await respond(res, await handler(record));
    })().catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    pingUrl: `${url}/ping`,
    postUrl: `${url}/post`,
    behaviour,
    received,
    get connections() {
      return connections;
    },
    async close() {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
