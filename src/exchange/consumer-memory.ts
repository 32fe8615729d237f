// What a recorded lead teaches the exchange about its consumer, written when its auction ends:
// the affiliate sent it (for resends), who bought it (for dedupe), who holds it exclusively.
// Each is a field of the consumer's history (one hash per contact hash, src/exchange/keys.ts).
import { daysToSeconds, stamp } from '../auction/consumer.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { SaleMode } from '../catalog/types.ts';
import type { FieldWrite } from '../store/store.ts';
import { hashesOf, historyFields, keys } from './keys.ts';
import type { AuctionSubject, ConsumerSession, MadeSale } from './types.ts';

export function consumerWrites(
  catalog: Catalog,
  subject: AuctionSubject,
  sold: MadeSale[],
  mode: SaleMode | null,
  now: number,
  session: ConsumerSession,
): FieldWrite[] {
  const histories = hashesOf(subject.hashes).map(keys.history);
  const { vertical } = subject;
  const writes: FieldWrite[] = [];
  if (vertical.duplicate_days > 0) {
    const field = historyFields.sent(subject.affiliateId, vertical.key);
    const ttlSeconds = daysToSeconds(vertical.duplicate_days);
    // The window runs from the first send: a resend does not extend it. The session read the
    // history under the consumer's lock, so what it saw is what is there.
    histories.forEach((key, i) => {
      if (session.sentLive?.[i] !== true) writes.push({ key, field, value: stamp(now, subject.leadId), ttlSeconds });
    });
  }
  for (const sale of sold) {
    const days = catalog.dedupeDaysOf(sale.bid.buyerId);
    if (days <= 0) continue;
    const field = historyFields.bought(sale.bid.buyerId);
    for (const key of histories) writes.push({ key, field, value: stamp(now), ttlSeconds: daysToSeconds(days) });
  }
  const exclusiveBuyer = mode === 'exclusive' ? sold[0]?.bid.buyerId : undefined;
  if (exclusiveBuyer && vertical.exclusive_days > 0) {
    const field = historyFields.exclusive(vertical.key);
    for (const key of histories) writes.push({ key, field, value: stamp(now, exclusiveBuyer), ttlSeconds: daysToSeconds(vertical.exclusive_days) });
  }
  return writes;
}
