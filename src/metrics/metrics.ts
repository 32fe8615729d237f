// Prometheus metrics (section 8, GET /metrics). One registry per app so tests and several
// in-process nodes never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  leads: Counter<'via' | 'status'>;
  pings: Counter<'outcome'>;
  capAlerts: Counter<'campaign_id' | 'period' | 'measure' | 'level'>;
  auctionSeconds: Histogram<'via'>;
  recordSeconds: Histogram;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'leadex_' });
  return {
    registry,
    leads: new Counter({ name: 'leadex_leads_total', help: 'Leads answered, by entry point and status', labelNames: ['via', 'status'], registers: [registry] }),
    pings: new Counter({ name: 'leadex_pings_total', help: 'Buyer pings, by outcome or no-bid reason', labelNames: ['outcome'], registers: [registry] }),
    capAlerts: new Counter({
      name: 'leadex_cap_alerts_total',
      help: 'Soft-cap alerts: a cap crossed 80% or reached 100%',
      labelNames: ['campaign_id', 'period', 'measure', 'level'],
      registers: [registry],
    }),
    auctionSeconds: new Histogram({
      name: 'leadex_auction_seconds',
      help: 'Time from receiving a lead to answering it',
      labelNames: ['via'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    // The durable commit every answer waits for (section 5.8). Its tail is the disk's fsync, which
    // the auction's own histogram cannot tell apart from anything else.
    recordSeconds: new Histogram({
      name: 'leadex_lead_record_seconds',
      help: 'Time from asking Postgres to record a lead until it is durably committed, retries included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

/** A gauge read when /metrics is scraped (a queue length, say), so the hot path never updates it. */
export function watchValue(metrics: Metrics, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [metrics.registry],
    collect() {
      this.set(read());
    },
  });
}
