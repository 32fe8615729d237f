// Slots for pings in flight (src/exchange/ping-slots.ts): an overloaded node makes auctions wait
// before pinging, in arrival order, instead of letting answers expire unread in its backlog.
import { describe, expect, it } from 'vitest';
import { ServiceUnavailable } from '../../src/errors/problems.ts';
import { PingSlots } from '../../src/exchange/ping-slots.ts';

const PATIENT = 10_000;

describe('ping slots', () => {
  it('grant at once while there is room, and count what is in flight', async () => {
    const slots = new PingSlots(10);
    const a = await slots.acquire(6, PATIENT);
    const b = await slots.acquire(4, PATIENT);
    expect(slots.inFlight).toBe(10);
    a();
    b();
    expect(slots.inFlight).toBe(0);
  });

  it('make an auction wait until enough slots come back, first come first served', async () => {
    const slots = new PingSlots(10);
    const first = await slots.acquire(8, PATIENT);
    const order: string[] = [];
    const wide = slots.acquire(5, PATIENT).then((release) => (order.push('wide'), release));
    // Would fit right now (8 + 2 <= 10), but arrived after the wide one: it waits its turn.
    const narrow = slots.acquire(2, PATIENT).then((release) => (order.push('narrow'), release));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]);
    expect(slots.queued).toBe(2);

    first();
    const [releaseWide, releaseNarrow] = await Promise.all([wide, narrow]);
    expect(order).toEqual(['wide', 'narrow']);
    expect(slots.inFlight).toBe(7);
    releaseWide();
    releaseNarrow();
    expect(slots.inFlight).toBe(0);
  });

  it('say at once, without waiting, whether slots are free for an auction', async () => {
    const slots = new PingSlots(10);
    const held = slots.tryAcquire(7);
    expect(held).not.toBeNull();
    expect(slots.tryAcquire(4)).toBeNull();
    const waiting = slots.acquire(4, PATIENT);
    // 2 would fit, but an auction is waiting: it goes first.
    expect(slots.tryAcquire(2)).toBeNull();
    held!();
    (await waiting)();
    expect(slots.inFlight).toBe(0);
  });

  it('let an auction wider than the whole capacity run alone rather than never', async () => {
    const slots = new PingSlots(10);
    const release = await slots.acquire(100, PATIENT);
    expect(slots.inFlight).toBe(10);
    release();
  });

  it('refuse with 503 an auction that cannot get its slots within its patience, and let the next one in', async () => {
    const slots = new PingSlots(10);
    const held = await slots.acquire(9, PATIENT);
    const started = performance.now();
    const refused = slots.acquire(5, 50);
    const behind = slots.acquire(1, PATIENT);
    await expect(refused).rejects.toBeInstanceOf(ServiceUnavailable);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    // The refused head no longer blocks the one behind it, which fits.
    (await behind)();
    expect(slots.queued).toBe(0);
    held();
    expect(slots.inFlight).toBe(0);
  });

  it('give slots back once however often release is called', async () => {
    const slots = new PingSlots(4);
    const release = await slots.acquire(3, PATIENT);
    release();
    release();
    expect(slots.inFlight).toBe(0);
    const again = await slots.acquire(4, PATIENT);
    expect(slots.inFlight).toBe(4);
    again();
  });
});
