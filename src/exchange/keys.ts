// Names of everything the exchange keeps in the store, in one place.
import type { ContactHashes } from '../lead/contact.ts';

export function hashesOf(hashes: ContactHashes): string[] {
  return [hashes.email_sha256, hashes.phone_sha256].filter((h): h is string => typeof h === 'string');
}

export const keys = {
  /** Held while a consumer is auctioned, so two nodes never auction one consumer at once. */
  consumerLock: (hash: string) => `consumer:${hash}`,
  /** When the affiliate last sent this consumer (and in which lead). */
  sent: (affiliateId: string, vertical: string, hash: string) => `sent:${affiliateId}:${vertical}:${hash}`,
  /** When the buyer last bought this consumer. */
  bought: (buyerId: string, hash: string) => `bought:${buyerId}:${hash}`,
  /** Which buyer holds this consumer exclusively, since when. */
  exclusive: (vertical: string, hash: string) => `excl:${vertical}:${hash}`,
  /** Cents the buyer spent since its balance was last set. */
  budget: (buyerId: string, epoch: number) => `budget:${buyerId}:${epoch}`,
  /** The next instant the campaign's pacing admits a sale. */
  pace: (campaignId: string) => `pace:${campaignId}`,
};
