// Reads a response body with a hard byte cap. A hostile or broken buyer can answer with an
// endless body; holding it all in memory before checking would let one buyer exhaust the exchange.

export type CappedBody = { ok: true; text: string } | { ok: false; reason: 'too_large' };

interface Destroyable {
  destroy?: (error?: Error) => unknown;
}

export async function readCappedBody(
  body: AsyncIterable<Buffer | Uint8Array>,
  maxBytes: number,
): Promise<CappedBody> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let tooLarge = false;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.byteLength;
    if (total > maxBytes) {
      tooLarge = true;
      // Leaving the loop calls the iterator's return(), which destroys a Readable; the explicit
      // destroy covers iterables whose return() merely stops iteration. For an HTTP body this
      // drops the connection, which is the point: draining the rest could take forever.
      break;
    }
    chunks.push(bytes);
  }
  if (tooLarge) {
    const destroyable = body as Destroyable;
    if (typeof destroyable.destroy === 'function') destroyable.destroy();
    return { ok: false, reason: 'too_large' };
  }
  return { ok: true, text: Buffer.concat(chunks, total).toString('utf8') };
}
