// How long leadex's answers waited for their lead's durable commit during a run, from the
// `leadex_lead_record_seconds` histogram of its /metrics, read before and after. Postgres's own
// statement log cannot show it: a named statement is logged per protocol step, and the commit's
// WAL flush comes at the Sync, outside every one of them.

const METRIC = 'leadex_lead_record_seconds';

/** Cumulative counts by upper bound in seconds (Infinity for +Inf), as Prometheus keeps them. */
export type Buckets = Map<number, number>;

export interface RecordWait {
  leads: number;
  /** Upper bound (ms) of the bucket holding the 99th percentile; null with no leads or past the last bound. */
  p99AtMostMs: number | null;
  /** Leads whose record took longer than 25 ms, and longer than 100 ms. */
  over25Ms: number;
  over100Ms: number;
}

export function parseBuckets(metricsText: string): Buckets {
  const buckets: Buckets = new Map();
  const line = new RegExp(`^${METRIC}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const [, le, count] of metricsText.matchAll(line)) buckets.set(le === '+Inf' ? Infinity : Number(le), Number(count));
  return buckets;
}

/** What happened between two readings of the histogram. */
export function recordWait(before: Buckets, after: Buckets): RecordWait {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const within = (bound: number) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
  const leads = within(Infinity);
  const atOrBelow = (seconds: number) => {
    const bound = bounds.find((b) => b >= seconds);
    if (bound !== seconds) throw new Error(`${METRIC} has no bucket at ${seconds} s`);
    return within(bound);
  };
  const p99 = bounds.find((bound) => within(bound) >= 0.99 * leads);
  return {
    leads,
    p99AtMostMs: leads === 0 || p99 === undefined || p99 === Infinity ? null : p99 * 1000,
    over25Ms: leads - atOrBelow(0.025),
    over100Ms: leads - atOrBelow(0.1),
  };
}

export async function readBuckets(url: string): Promise<Buckets> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics answered ${response.status}`);
  return parseBuckets(await response.text());
}

export function describeRecordWait(wait: RecordWait): string {
  const p99 = wait.p99AtMostMs !== null ? `≤ ${wait.p99AtMostMs} ms` : wait.leads === 0 ? 'n/a' : 'past the last bucket';
  return `lead record (${METRIC}): ${wait.leads} leads, p99 ${p99}, ${wait.over25Ms} took > 25 ms, ${wait.over100Ms} > 100 ms`;
}
