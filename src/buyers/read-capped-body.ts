// Reads a response body with a hard byte cap. A hostile or broken buyer can answer with an
// endless body; holding it all in memory before checking would let one buyer exhaust the exchange.
//
// Plain 'data'/'end' listeners rather than `for await`: the async iterator costs a promise, an
// iterator result and end-of-stream bookkeeping per chunk, on every ping of every auction.

import type { Readable } from 'node:stream';

export type CappedBody = { ok: true; text: string } | { ok: false; reason: 'too_large' };

export function readCappedBody(body: Readable, maxBytes: number): Promise<CappedBody> {
  return new Promise<CappedBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    // The 'error' listener stays: destroying an undici body emits an abort error afterwards,
    // which must not surface as an uncaught exception.
    const done = (): void => {
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += bytes.byteLength;
      if (total > maxBytes) {
        done();
        // Drops the connection, which is the point: draining the rest could take forever.
        body.destroy();
        resolve({ ok: false, reason: 'too_large' });
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = (): void => {
      done();
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, total).toString('utf8');
      resolve({ ok: true, text });
    };
    const onError = (error: unknown): void => {
      if (settled) return;
      done();
      reject(error);
    };
    // Destroyed (our deadline abort, a socket cut mid-body) without 'end' or 'error'.
    const onClose = (): void => {
      if (body.readableEnded) return;
      done();
      reject(new Error('response body closed before its end'));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
