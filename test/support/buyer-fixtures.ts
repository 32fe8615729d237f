// What the buyer-client tests share: a campaign pointing at a loopback buyer, the bodies sent to
// it, and cleanup of servers and clients after each test.
import { afterEach } from 'vitest';
import type { PingBody, PostBody } from '../../src/buyers/buyer-client.ts';
import type { CampaignWithSecret } from '../../src/catalog/types.ts';
import { startBuyerServer, type BuyerBehaviour, type BuyerServer } from './buyer-server.ts';

/** Registers an afterEach that closes whatever `defer` was given, newest first. */
export function closesAfterEach(): <T extends { close(): Promise<void> }>(closable: T) => T {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    while (open.length > 0) await open.pop()?.close();
  });
  return (closable) => {
    open.push(closable);
    return closable;
  };
}

export async function buyerServer(defer: ReturnType<typeof closesAfterEach>, behaviour: BuyerBehaviour): Promise<BuyerServer> {
  return defer(await startBuyerServer(behaviour));
}

export function testCampaign(server: { pingUrl: string; postUrl: string }, overrides: Partial<CampaignWithSecret> = {}): CampaignWithSecret {
  return {
    id: 'cp_1',
    buyer_id: 'by_1',
    name: 'test',
    vertical: 'auto_insurance',
    mode: 'exclusive',
    pricing: { type: 'bid' },
    ping_url: server.pingUrl,
    post_url: server.postUrl,
    headers: {},
    timeout_ms: 500,
    filters: null,
    schedule: null,
    caps: [],
    max_per_minute: null,
    dedupe_days: 30,
    priority: 0,
    weight: 1,
    status: 'active',
    signing_secret: 'secret-abc',
    ...overrides,
  };
}

export function testPingBody(overrides: Partial<PingBody> = {}): PingBody {
  return {
    ping_id: 'pg_1',
    campaign_id: 'cp_1',
    vertical: 'auto_insurance',
    mode: 'exclusive',
    data: { state: 'CA' },
    contact_hashes: {},
    tmax_ms: 500,
    ...overrides,
  };
}

export function testPostBody(overrides: Partial<PostBody> = {}): PostBody {
  return {
    lead_id: 'ld_1',
    ping_id: 'pg_1',
    bid_id: 'b-1',
    campaign_id: 'cp_1',
    price: 10,
    vertical: 'auto_insurance',
    mode: 'exclusive',
    data: { state: 'CA' },
    contact: { email: 'ada@example.com' },
    consent: { tcpa: true },
    source: {},
    ...overrides,
  };
}

/** An absolute deadline far enough away not to matter. */
export const far = (): number => Date.now() + 10_000;
