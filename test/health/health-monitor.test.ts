// The health gate notices a dependency going down and coming back by itself, on a real Redis
// the test kills and restarts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../src/health/health-monitor.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

describe('the health monitor on a real Redis', () => {
  let redis: OwnService;
  let store: RedisStore;
  let monitor: HealthMonitor;
  const changes: Array<[string, boolean]> = [];

  beforeAll(async () => {
    redis = await startOwnRedis();
    store = new RedisStore({ url: redis.url, keyPrefix: 'health:' });
    await store.ping();
    monitor = new HealthMonitor([{ name: 'redis', check: () => store.ping() }], {
      intervalMs: 100,
      timeoutMs: 1000,
      onChange: (name, up) => changes.push([name, up]),
    }).start();
  });

  afterAll(async () => {
    await monitor?.stop();
    await store?.close();
    await redis?.destroy();
  });

  it('says Redis is unavailable soon after it dies, and available again soon after it returns', async () => {
    expect(monitor.unavailable()).toBeNull();

    await redis.stop();
    // A probe waits up to the store's 1 s command timeout, plus one interval.
    const noticedAfter = await waitFor(() => monitor.unavailable() === 'redis', 5000);
    expect(noticedAfter).toBeLessThan(2500);

    await redis.start();
    // ioredis retries at most every second, then one probe interval.
    await waitFor(() => monitor.unavailable() === null, 5000);
    expect(changes).toEqual([
      ['redis', false],
      ['redis', true],
    ]);
  });
});

describe('reported failures', () => {
  it('hold until a probe that started after the report succeeds', async () => {
    let answer: (() => void) | undefined;
    const monitor = new HealthMonitor([{ name: 'postgres', check: () => new Promise<void>((resolve) => (answer = resolve)) }], { intervalMs: 1000, timeoutMs: 1000 });

    const before = monitor.checkNow();
    monitor.reportFailure('postgres');
    answer!();
    await before;
    // That probe was sent before the failure was seen: its success proves nothing.
    expect(monitor.unavailable()).toBe('postgres');

    const after = monitor.checkNow();
    answer!();
    await after;
    expect(monitor.unavailable()).toBeNull();
  });

  it('a refused probe is a failure at once', async () => {
    const monitor = new HealthMonitor([{ name: 'postgres', check: () => Promise.reject(new Error('connect ECONNREFUSED')) }], { intervalMs: 1000, timeoutMs: 1000 });

    await monitor.checkNow();

    expect(monitor.unavailable()).toBe('postgres');
  });

  it('a probe slower than the timeout is a failure only when it happens twice in a row', async () => {
    let hang = true;
    const check = () => (hang ? new Promise<void>(() => {}) : Promise.resolve());
    const monitor = new HealthMonitor([{ name: 'postgres', check }], { intervalMs: 1000, timeoutMs: 30 });

    await monitor.checkNow();
    expect(monitor.unavailable()).toBeNull();
    hang = false;
    await monitor.checkNow();
    hang = true;
    await monitor.checkNow();
    // Slow, fast, slow: hiccups, not an outage.
    expect(monitor.unavailable()).toBeNull();

    await monitor.checkNow();
    expect(monitor.unavailable()).toBe('postgres');
  });
});
