// Buyers for the demo: real HTTP endpoints on loopback with their own pricing, latency and
// manners, so the demo shows real auctions rather than scripted ones.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SimulatedBuyer {
  name: string;
  /** Dollars; the buyer bids around this, higher for good credit. */
  bid: number;
  latencyMs: number;
  /** Share of posts refused as duplicates. */
  rejectRate: number;
  /** Share of pings answered with no bid. */
  passRate: number;
}

export interface RunningBuyer extends SimulatedBuyer {
  pingUrl: string;
  postUrl: string;
  close(): Promise<void>;
}

function answer(buyer: SimulatedBuyer, path: string, body: Record<string, any>): { status: number; json?: unknown } {
  if (path === '/ping') {
    if (Math.random() < buyer.passRate) return { status: 204 };
    const creditBonus = body.data?.credit === 'excellent' ? 1.25 : body.data?.credit === 'good' ? 1.1 : 1;
    const bid = Math.round(buyer.bid * creditBonus * (0.9 + Math.random() * 0.2) * 100) / 100;
    return { status: 200, json: { bid, bid_id: `${buyer.name}-${Date.now().toString(36)}` } };
  }
  if (Math.random() < buyer.rejectRate) return { status: 200, json: { accepted: false, reason: 'duplicate' } };
  return { status: 200, json: { accepted: true, buyer_lead_id: `${buyer.name}-${Math.random().toString(36).slice(2, 8)}` } };
}

export async function startSimulatedBuyer(buyer: SimulatedBuyer): Promise<RunningBuyer> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
      } catch {
        // a buyer that cannot read the request just passes
      }
      const reply = answer(buyer, req.url ?? '', body);
      setTimeout(() => {
        res.writeHead(reply.status, reply.json ? { 'content-type': 'application/json' } : {});
        res.end(reply.json ? JSON.stringify(reply.json) : undefined);
      }, buyer.latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...buyer,
    pingUrl: `${url}/ping`,
    postUrl: `${url}/post`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
