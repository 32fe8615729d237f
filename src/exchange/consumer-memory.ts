// What a recorded lead teaches the exchange about its consumer, written when its auction ends:
// the affiliate sent it (for resends), who bought it (for dedupe), who holds it exclusively.
import { daysToSeconds, stamp } from '../auction/consumer.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { SaleMode } from '../catalog/types.ts';
import type { ValueWrite } from '../store/store.ts';
import { hashesOf, keys } from './keys.ts';
import type { AuctionSubject, MadeSale } from './types.ts';

export function consumerWrites(catalog: Catalog, subject: AuctionSubject, sold: MadeSale[], mode: SaleMode | null, now: number): ValueWrite[] {
  const hashes = hashesOf(subject.hashes);
  const { vertical } = subject;
  const writes: ValueWrite[] = [];
  if (vertical.duplicate_days > 0) {
    for (const hash of hashes) {
      // The window runs from the first send: a resend does not extend it.
      writes.push({ key: keys.sent(subject.affiliateId, vertical.key, hash), value: stamp(now, subject.leadId), ttlSeconds: daysToSeconds(vertical.duplicate_days), onlyIfAbsent: true });
    }
  }
  for (const sale of sold) {
    const days = catalog.dedupeDaysOf(sale.bid.buyerId);
    if (days <= 0) continue;
    for (const hash of hashes) writes.push({ key: keys.bought(sale.bid.buyerId, hash), value: stamp(now), ttlSeconds: daysToSeconds(days) });
  }
  const exclusiveBuyer = mode === 'exclusive' ? sold[0]?.bid.buyerId : undefined;
  if (exclusiveBuyer && vertical.exclusive_days > 0) {
    for (const hash of hashes) {
      writes.push({ key: keys.exclusive(vertical.key, hash), value: stamp(now, exclusiveBuyer), ttlSeconds: daysToSeconds(vertical.exclusive_days) });
    }
  }
  return writes;
}
