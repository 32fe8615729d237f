// A campaign's optional circuit breaker thresholds and post timeout, as the admin API takes them.
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { campaignCreate, campaignPatch } from '../../src/catalog/schemas.ts';
import { fieldErrors } from '../../src/errors/zod-errors.ts';

const minimal = {
  buyer_id: 'by_1',
  name: 'CA exclusive',
  vertical: 'auto_insurance',
  mode: 'exclusive',
  pricing: { type: 'bid' },
  ping_url: 'https://buyer.example/ping',
  post_url: 'https://buyer.example/post',
};

function errorsOf(schema: z.ZodType, body: unknown): Array<{ path: string; message: string }> {
  const result = schema.safeParse(body);
  if (result.success) throw new Error(`expected ${JSON.stringify(body)} to be refused`);
  return fieldErrors(result.error.issues);
}

describe('campaign breaker settings', () => {
  it('are absent unless given: the exchange defaults then apply', () => {
    const parsed = campaignCreate.parse(minimal);
    expect(parsed).not.toHaveProperty('breaker');
    expect(parsed).not.toHaveProperty('post_timeout_ms');
  });

  it('fill the fields left out with the defaults', () => {
    expect(campaignCreate.parse({ ...minimal, breaker: { volume_threshold: 4 } }).breaker).toEqual({
      error_threshold_percentage: 50,
      volume_threshold: 4,
      rolling_window_ms: 10_000,
      reset_timeout_ms: 5_000,
    });
    expect(campaignCreate.parse({ ...minimal, breaker: {} }).breaker).toMatchObject({ volume_threshold: 10 });
  });

  it('refuse values that would disable the breaker or bench a buyer for good, naming each field', () => {
    const body = {
      ...minimal,
      breaker: { error_threshold_percentage: 100, volume_threshold: 0, rolling_window_ms: 999, reset_timeout_ms: 3_600_001 },
    };
    expect(errorsOf(campaignCreate, body).map((e) => e.path)).toEqual([
      'breaker.error_threshold_percentage',
      'breaker.volume_threshold',
      'breaker.rolling_window_ms',
      'breaker.reset_timeout_ms',
    ]);
    expect(errorsOf(campaignCreate, { ...minimal, breaker: { volume_threshold: 2.5 } }).map((e) => e.path)).toEqual(['breaker.volume_threshold']);
  });

  it('refuse unknown keys, so a typo is not silently ignored', () => {
    expect(errorsOf(campaignCreate, { ...minimal, breaker: { reset_timeout: 1000 } })).toEqual([
      { path: 'breaker.reset_timeout', message: 'unknown field: reset_timeout' },
    ]);
  });

  it('can be replaced or reset to the defaults by a patch', () => {
    expect(campaignPatch.parse({ breaker: { reset_timeout_ms: 200 } }).breaker).toMatchObject({ reset_timeout_ms: 200, volume_threshold: 10 });
    expect(campaignPatch.parse({ breaker: null })).toEqual({ breaker: null });
    expect(campaignPatch.parse({ name: 'x' })).not.toHaveProperty('breaker');
  });
});

describe('campaign post_timeout_ms', () => {
  it('is between 100 ms and a minute, or null', () => {
    expect(campaignCreate.parse({ ...minimal, post_timeout_ms: 1500 }).post_timeout_ms).toBe(1500);
    expect(campaignPatch.parse({ post_timeout_ms: null })).toEqual({ post_timeout_ms: null });
    for (const bad of [99, 60_001, 250.5, '1000']) {
      expect(errorsOf(campaignCreate, { ...minimal, post_timeout_ms: bad }).map((e) => e.path)).toEqual(['post_timeout_ms']);
    }
  });
});
