// Graceful shutdown waits for exactly the lead requests in flight, and refuses new ones.
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { InFlightTracker } from '../../src/http/in-flight.ts';
import { errorHandler } from '../../src/http/problem-response.ts';

function appWith(tracker: InFlightTracker) {
  const releases: Array<() => void> = [];
  const hono = new Hono();
  hono.onError(errorHandler(pino({ level: 'silent' })));
  hono.use('/v1/leads', tracker.middleware);
  // Answers only when the test lets it: an auction still going on.
  hono.post('/v1/leads', async (c) => {
    await new Promise<void>((resolve) => releases.push(resolve));
    return c.json({ status: 'sold' });
  });
  hono.post('/v1/fails', tracker.middleware, () => {
    throw new Error('boom');
  });
  return { hono, releaseOne: () => releases.shift()?.() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('in-flight lead requests', () => {
  it('are counted while they run', async () => {
    const tracker = new InFlightTracker();
    const { hono, releaseOne } = appWith(tracker);

    const first = hono.request('/v1/leads', { method: 'POST' });
    const second = hono.request('/v1/leads', { method: 'POST' });
    await tick();
    expect(tracker.count).toBe(2);

    releaseOne();
    await first;
    expect(tracker.count).toBe(1);
    releaseOne();
    await second;
    expect(tracker.count).toBe(0);
  });

  it('a failing request is no longer counted once answered', async () => {
    const tracker = new InFlightTracker();
    const { hono } = appWith(tracker);

    const answer = await hono.request('/v1/fails', { method: 'POST' });

    expect(answer.status).toBe(500);
    expect(tracker.count).toBe(0);
  });

  it('drained() waits for the last one to answer', async () => {
    const tracker = new InFlightTracker();
    const { hono, releaseOne } = appWith(tracker);
    const pending = hono.request('/v1/leads', { method: 'POST' });
    await tick();

    let drained: boolean | undefined;
    const waiting = tracker.drained(5000).then((result) => (drained = result));
    await tick();
    expect(drained).toBeUndefined();

    releaseOne();
    expect((await pending).status).toBe(200);
    await waiting;
    expect(drained).toBe(true);
  });

  it('drained() gives up after its timeout when a request never ends', async () => {
    const tracker = new InFlightTracker();
    const { hono, releaseOne } = appWith(tracker);
    const pending = hono.request('/v1/leads', { method: 'POST' });
    await tick();

    expect(await tracker.drained(50)).toBe(false);

    releaseOne();
    await pending;
  });

  it('once stopped, new requests get 503 problem+json that closes the connection, and readiness fails', async () => {
    const tracker = new InFlightTracker();
    const { hono } = appWith(tracker);
    await expect(tracker.probe.check()).resolves.toBeUndefined();

    tracker.stopAccepting();
    const answer = await hono.request('/v1/leads', { method: 'POST' });

    expect(answer.status).toBe(503);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.headers.get('connection')).toBe('close');
    expect(await answer.json()).toMatchObject({ status: 503, detail: expect.stringContaining('shutting down') });
    expect(tracker.count).toBe(0);
    await expect(tracker.probe.check()).rejects.toThrow('shutting down');
  });

  it('stopping does not cut the requests already running', async () => {
    const tracker = new InFlightTracker();
    const { hono, releaseOne } = appWith(tracker);
    const pending = hono.request('/v1/leads', { method: 'POST' });
    await tick();

    tracker.stopAccepting();
    releaseOne();

    expect((await pending).status).toBe(200);
  });
});
