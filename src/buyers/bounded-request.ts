// One POST over undici's dispatch API, bounded end to end by a deadline and a body cap.
//
// Why not `pool.request()`: it wraps every response in a web-compatible Readable stream, an
// AsyncResource and an AbortSignal listener, which a ping answer of a few dozen bytes does not
// need. On every ping of every auction that was the largest single cost of the exchange's
// outbound side. A handler that collects the chunks itself does the same job with none of it.
//
// Why a byte cap while reading: a hostile or broken buyer can answer with an endless body;
// holding it all before checking would let one buyer exhaust the exchange's memory.
import type { Dispatcher } from 'undici';

export type BoundedAnswer =
  | { ok: true; status: number; text: string | null; location: string | null }
  | { ok: false; reason: 'timeout' | 'too_large'; status?: number }
  | { ok: false; reason: 'error'; error: unknown; status?: number };

export interface BoundedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface BoundedLimits {
  /** Milliseconds from now until the whole exchange (queueing, connect, headers, body) must end. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** undici's own header/body timers, a belt in case ours somehow does not fire. */
  beltMs: number;
}

class DeadlineReached extends Error {
  constructor() {
    super('deadline reached');
    this.name = 'DeadlineReached';
  }
}

class BodyTooLarge extends Error {
  constructor() {
    super('response body over the cap');
    this.name = 'BodyTooLarge';
  }
}

/**
 * Sends `request` and settles exactly once: with the answer (2xx: its text; otherwise only its
 * status and `location`, the body drained so the connection stays reusable), or with why not.
 * The deadline settles it on time even while the request still waits for a pooled connection;
 * the request is then cancelled as soon as undici hands it one.
 */
export function boundedPost(dispatcher: Dispatcher, request: BoundedRequest, limits: BoundedLimits): Promise<BoundedAnswer> {
  return new Promise<BoundedAnswer>((resolve) => {
    new BoundedHandler(dispatcher, request, limits, resolve);
  });
}

class BoundedHandler implements Dispatcher.DispatchHandler {
  readonly #resolve: (answer: BoundedAnswer) => void;
  readonly #maxBodyBytes: number;
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | null = null;
  #settled = false;
  /** Set once the deadline passed: the request is cancelled whenever undici starts it. */
  #cancel: Error | null = null;
  #status = 0;
  #location: string | null = null;
  #keep = false;
  #chunks: Buffer[] = [];
  #received = 0;

  constructor(dispatcher: Dispatcher, request: BoundedRequest, limits: BoundedLimits, resolve: (answer: BoundedAnswer) => void) {
    this.#resolve = resolve;
    this.#maxBodyBytes = limits.maxBodyBytes;
    this.#timer = setTimeout(() => this.#expire(), limits.timeoutMs);
    try {
      dispatcher.dispatch(
        {
          path: request.path,
          method: 'POST',
          headers: request.headers,
          body: request.body,
          headersTimeout: limits.beltMs,
          bodyTimeout: limits.beltMs,
        },
        this,
      );
    } catch (error) {
      this.#settle({ ok: false, reason: 'error', error });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#cancel !== null) {
      controller.abort(this.#cancel);
      return;
    }
    this.#controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx informational answers come before the real one.
    if (statusCode < 200 || this.#settled) return;
    this.#status = statusCode;
    this.#keep = statusCode < 300;
    if (!this.#keep) {
      const location = headers.location;
      this.#location = typeof location === 'string' ? location : null;
    }
    const declared = Number(headers['content-length']);
    if (this.#keep && Number.isFinite(declared) && declared > this.#maxBodyBytes) this.#cutShort(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#received += chunk.byteLength;
    if (this.#received > this.#maxBodyBytes) {
      this.#cutShort(controller);
      return;
    }
    if (this.#keep) this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    if (!this.#keep) {
      this.#settle({ ok: true, status: this.#status, text: null, location: this.#location });
      return;
    }
    const chunks = this.#chunks;
    const text = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, this.#received).toString('utf8');
    this.#settle({ ok: true, status: this.#status, text, location: null });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settled) return;
    const answer: BoundedAnswer = { ok: false, reason: 'error', error };
    if (this.#status !== 0) answer.status = this.#status;
    this.#settle(answer);
  }

  #expire(): void {
    if (this.#settled) return;
    this.#cancel = new DeadlineReached();
    if (this.#status !== 0 && !this.#keep) {
      // A non-2xx status already stands; only the drain of its body is cut short.
      this.#settle({ ok: true, status: this.#status, text: null, location: this.#location });
    } else {
      const answer: BoundedAnswer = { ok: false, reason: 'timeout' };
      if (this.#status !== 0) answer.status = this.#status;
      this.#settle(answer);
    }
    this.#controller?.abort(this.#cancel);
  }

  /**
   * A body over the cap: a 2xx answer is refused, a non-2xx one keeps its status. Either way the
   * connection is dropped, which is the point: the rest of the body could take forever.
   */
  #cutShort(controller: Dispatcher.DispatchController): void {
    if (this.#keep) this.#settle({ ok: false, reason: 'too_large', status: this.#status });
    else this.#settle({ ok: true, status: this.#status, text: null, location: this.#location });
    controller.abort(new BodyTooLarge());
  }

  #settle(answer: BoundedAnswer): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#chunks = [];
    this.#resolve(answer);
  }
}
