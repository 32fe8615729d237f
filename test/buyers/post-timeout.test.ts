// A campaign's post_timeout_ms bounds everything spent posting to it, retries included, so a
// hanging or failing winner leaves the rest of the post deadline to the next bid.
import { describe, expect, it } from 'vitest';
import type { PostBody } from '../../src/buyers/buyer-client.ts';
import { HttpBuyerClient } from '../../src/buyers/http-buyer-client.ts';
import type { CampaignWithSecret } from '../../src/catalog/types.ts';
import { accepting, reply, startBuyerServer } from '../support/buyer-server.ts';
import type { BuyerBehaviour, BuyerServer } from '../support/buyer-server.ts';
import { buyerServer, closesAfterEach, testCampaign, testPostBody } from '../support/buyer-fixtures.ts';

const TOLERANCE_MS = 50;

const defer = closesAfterEach();
const buyer = (behaviour: BuyerBehaviour): Promise<BuyerServer> => buyerServer(defer, behaviour);
const client = (): HttpBuyerClient => defer(new HttpBuyerClient({ postRetryBackoffMs: 20 }));
const campaign = (server: BuyerServer, postTimeoutMs: number | null): CampaignWithSecret => testCampaign(server, { post_timeout_ms: postTimeoutMs });
const body: PostBody = testPostBody({ data: {}, contact: {}, consent: {} });

describe('post_timeout_ms', () => {
  it('cuts a hanging post at the campaign timeout, long before the post deadline', async () => {
    const server = await buyer({ post: reply({ hang: true }) });
    const t0 = Date.now();

    const outcome = await client().post(campaign(server, 200), body, 'sale-1', t0 + 5000);

    const elapsed = Date.now() - t0;
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: 1 });
    expect(elapsed).toBeGreaterThanOrEqual(200 - TOLERANCE_MS);
    // Far below the 5 s post deadline; the rest is slack for a loaded machine's timers.
    expect(elapsed).toBeLessThan(1000);
    expect(server.received.posts).toHaveLength(1);
  });

  it('keeps retrying a 5xx with the same key, but only within the campaign timeout', async () => {
    const server = await buyer({ post: reply({ status: 503 }) });
    const t0 = Date.now();

    const outcome = await client().post(campaign(server, 300), body, 'sale-2', t0 + 5000);

    // The last attempt may be the one the timeout cuts: the reason is either.
    expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/^(http_status|timeout)$/) });
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    expect(server.received.posts.length).toBe(outcome.attempts);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(new Set(server.received.posts.map((p) => p.headers['idempotency-key']))).toEqual(new Set(['sale-2']));
  });

  it('gives way to an earlier post deadline', async () => {
    const server = await buyer({ post: reply({ hang: true }) });
    const t0 = Date.now();

    await client().post(campaign(server, 2000), body, 'sale-3', t0 + 200);

    expect(Date.now() - t0).toBeGreaterThanOrEqual(200 - TOLERANCE_MS);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('does not shorten a post that answers in time', async () => {
    const server = await buyer({ post: accepting({ delayMs: 100 }) });
    expect(await client().post(campaign(server, 300), body, 'sale-4', Date.now() + 5000)).toMatchObject({ kind: 'accepted', attempts: 1 });
  });
});
