// A ping's wire JSON. Every buyer of an auction gets the same lead data and contact hashes, so
// that part is serialised once per auction rather than once per buyer; the result is
// byte-for-byte what JSON.stringify(body) gives.
import type { PingBody } from './buyer-client.ts';

interface Shared {
  pingId: string;
  vertical: string;
  hashes: PingBody['contact_hashes'];
  data: string;
  contactHashes: string;
}

// Keyed by the lead's data object, which lives exactly as long as its auction. The ping id,
// vertical and hashes object are compared too, so a data object reused by another ping can
// never borrow this one's serialisation.
const shared = new WeakMap<PingBody['data'], Shared>();

export function pingJson(body: PingBody): string {
  let known = shared.get(body.data);
  if (known === undefined || known.pingId !== body.ping_id || known.vertical !== body.vertical || known.hashes !== body.contact_hashes) {
    known = {
      pingId: body.ping_id,
      vertical: body.vertical,
      hashes: body.contact_hashes,
      data: JSON.stringify(body.data),
      contactHashes: JSON.stringify(body.contact_hashes),
    };
    shared.set(body.data, known);
  }
  return (
    `{"ping_id":${JSON.stringify(body.ping_id)},"campaign_id":${JSON.stringify(body.campaign_id)},` +
    `"vertical":${JSON.stringify(body.vertical)},"mode":${JSON.stringify(body.mode)},"data":${known.data},` +
    `"contact_hashes":${known.contactHashes},"tmax_ms":${JSON.stringify(body.tmax_ms)}}`
  );
}
