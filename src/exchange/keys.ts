// Names of everything the exchange keeps in the store, in one place.
import type { ContactHashes } from '../lead/contact.ts';

const HISTORY = 'history';

export function hashesOf(hashes: ContactHashes): string[] {
  return [hashes.email_sha256, hashes.phone_sha256].filter((h): h is string => typeof h === 'string');
}

export const keys = {
  /** Held while a consumer is auctioned, so two nodes never auction one consumer at once. */
  consumerLock: (hash: string) => `consumer:${hash}`,
  /**
   * What the exchange remembers of a consumer, one hash per contact hash: its fields are below.
   * An auction with a hundred buyers reads two keys for it, where a key per buyer and contact hash
   * was two hundred (load/FINDINGS.md, "A consumer's history as one hash").
   */
  history: (hash: string) => `${HISTORY}:${hash}`,
  /** Cents the buyer spent since its balance was last set. */
  budget: (buyerId: string, epoch: number) => `budget:${buyerId}:${epoch}`,
  /** The next instant the campaign's pacing admits a sale. */
  pace: (campaignId: string) => `pace:${campaignId}`,
};

/** The fields of a consumer's history (keys.history). Each value is a stamp (src/auction/consumer.ts). */
export const historyFields = {
  /** When the affiliate first sent this consumer in the vertical's window (and in which lead). */
  sent: (affiliateId: string, vertical: string) => `sent:${affiliateId}:${vertical}`,
  /** When the buyer last bought this consumer. */
  bought: (buyerId: string) => `bought:${buyerId}`,
  /** Which buyer holds this consumer exclusively, since when. */
  exclusive: (vertical: string) => `excl:${vertical}`,
};

/**
 * Until 2026-12-07 each field was a value of its own, named `<field>:<contact hash>`; a store
 * regroups any it still holds into the histories once (Store.regroupValues), at start.
 */
export const regrouping = { kinds: ['sent', 'bought', 'excl'], into: HISTORY };
