// Quality checks refuse to sell a lead without refusing the request: the lead is stored with
// status "rejected" and these reasons, so the affiliate and the operator can see why.
export function qualityReasons(lead: { consent: Record<string, unknown> }): string[] {
  const reasons: string[] = [];
  // Selling a lead without TCPA consent exposes every buyer who calls it to statutory damages.
  if (lead.consent.tcpa !== true) reasons.push('consent.tcpa is not true');
  return reasons;
}
