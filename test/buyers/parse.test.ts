import { describe, expect, it } from 'vitest';
import { dollarsToCentsFloor, parseBidAnswer } from '../../src/buyers/parse-bid.ts';
import { parsePostAnswer } from '../../src/buyers/parse-post-answer.ts';

describe('parseBidAnswer', () => {
  it('parses a bid into cents, floored', () => {
    expect(parseBidAnswer(200, '{"bid":21.0,"bid_id":"b-123"}')).toEqual({ kind: 'bid', amount: 2100, bidId: 'b-123' });
    expect(parseBidAnswer(200, '{"bid":21.999}')).toEqual({ kind: 'bid', amount: 2199, bidId: null });
    expect(parseBidAnswer(201, '{"bid":0.29,"bid_id":42,"extra":{"x":1}}')).toEqual({ kind: 'bid', amount: 29, bidId: '42' });
  });

  it('floors without float artefacts', () => {
    expect(dollarsToCentsFloor(0.29)).toBe(29);
    expect(dollarsToCentsFloor(1.1)).toBe(110);
    expect(dollarsToCentsFloor(19.99)).toBe(1999);
    expect(dollarsToCentsFloor(0.009)).toBe(0);
  });

  it('treats 204, bid 0 and bid null as no bid', () => {
    expect(parseBidAnswer(204, null)).toEqual({ kind: 'no_bid', reason: 'no_bid' });
    expect(parseBidAnswer(204, '')).toEqual({ kind: 'no_bid', reason: 'no_bid' });
    expect(parseBidAnswer(200, '{"bid":0}')).toEqual({ kind: 'no_bid', reason: 'no_bid' });
    expect(parseBidAnswer(200, '{"bid":null}')).toEqual({ kind: 'no_bid', reason: 'no_bid' });
    expect(parseBidAnswer(200, '{"bid":0.001}')).toMatchObject({ kind: 'no_bid', reason: 'no_bid' });
  });

  it.each([
    ['not json', '<html>'],
    ['empty', ''],
    ['array', '[{"bid":1}]'],
    ['null', 'null'],
    ['number', '21'],
    ['missing bid', '{"price":21}'],
    ['string bid', '{"bid":"21"}'],
    ['negative bid', '{"bid":-1}'],
    ['boolean bid', '{"bid":true}'],
    ['object bid', '{"bid":{"amount":1}}'],
    ['huge bid', '{"bid":1e300}'],
    ['object bid_id', '{"bid":1,"bid_id":{}}'],
  ])('refuses %s as invalid_body', (_name, body) => {
    expect(parseBidAnswer(200, body)).toMatchObject({ kind: 'no_bid', reason: 'invalid_body' });
  });

  it('maps statuses', () => {
    expect(parseBidAnswer(500, '{"bid":5}')).toMatchObject({ kind: 'no_bid', reason: 'http_status' });
    expect(parseBidAnswer(404, null)).toMatchObject({ kind: 'no_bid', reason: 'http_status' });
    expect(parseBidAnswer(302, null)).toMatchObject({ kind: 'no_bid', reason: 'redirect' });
    expect(parseBidAnswer(307, '{"bid":5}')).toMatchObject({ kind: 'no_bid', reason: 'redirect' });
  });
});

describe('parsePostAnswer', () => {
  it('accepts', () => {
    expect(parsePostAnswer(200, '{"accepted":true,"buyer_lead_id":"x1","redirect_url":"https://b.example/thanks"}')).toEqual({
      kind: 'accepted',
      buyerLeadId: 'x1',
      redirectUrl: 'https://b.example/thanks',
    });
    expect(parsePostAnswer(200, '{"accepted":true}')).toEqual({ kind: 'accepted', buyerLeadId: null, redirectUrl: null });
    expect(parsePostAnswer(200, '{"accepted":true,"buyer_lead_id":7,"redirect_url":"javascript:alert(1)"}')).toEqual({
      kind: 'accepted',
      buyerLeadId: '7',
      redirectUrl: null,
    });
  });

  it('rejects with the reason, defaulting to "rejected"', () => {
    expect(parsePostAnswer(200, '{"accepted":false,"reason":"duplicate"}')).toEqual({ kind: 'rejected', reason: 'duplicate' });
    expect(parsePostAnswer(200, '{"accepted":false}')).toEqual({ kind: 'rejected', reason: 'rejected' });
  });

  it('classifies failures', () => {
    expect(parsePostAnswer(503, null)).toMatchObject({ kind: 'retryable', reason: 'http_status' });
    expect(parsePostAnswer(500, '{"accepted":true}')).toMatchObject({ kind: 'retryable', reason: 'http_status' });
    expect(parsePostAnswer(400, null)).toMatchObject({ kind: 'failed', reason: 'http_status' });
    expect(parsePostAnswer(302, null)).toMatchObject({ kind: 'failed', reason: 'redirect' });
    expect(parsePostAnswer(200, 'OK')).toMatchObject({ kind: 'failed', reason: 'invalid_body' });
    expect(parsePostAnswer(200, '{"accepted":"yes"}')).toMatchObject({ kind: 'failed', reason: 'invalid_body' });
    expect(parsePostAnswer(200, '[]')).toMatchObject({ kind: 'failed', reason: 'invalid_body' });
  });
});
