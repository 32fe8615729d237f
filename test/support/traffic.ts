// Continuous affiliate traffic against an exchange: a few workers sending leads back to back,
// direct posts and two-phase ping+post, recording every answer (or network error) with its timing.
import { sampleLead } from './exchange.ts';

export interface TrafficAnswer {
  via: 'leads' | 'ping' | 'post';
  /** 0 when no HTTP answer came (connection refused or cut). */
  status: number;
  contentType: string | null;
  body: any;
  /** Date.now() when the request was sent. */
  startedAt: number;
  /** Date.now() when its answer (or error) arrived. */
  endedAt: number;
  error?: string;
}

export interface Traffic {
  answers: TrafficAnswer[];
  /** Lets each worker finish the request it is in, then resolves. */
  stop(): Promise<void>;
}

export interface TrafficOptions {
  baseUrl: string;
  token: string;
  workers: number;
  /** Every n-th worker does two-phase ping+post instead of direct posts (0: none). */
  twoPhaseEvery?: number;
  /** Pause after a refusal or an error, so a worker does not spin during an outage. */
  pauseAfterRefusalMs?: number;
  /** Stop a worker after its first network error (the server is gone). */
  stopOnNetworkError?: boolean;
}

export function startTraffic(options: TrafficOptions): Traffic {
  const answers: TrafficAnswer[] = [];
  let running = true;

  const send = async (via: TrafficAnswer['via'], path: string, body: unknown): Promise<TrafficAnswer> => {
    const startedAt = Date.now();
    let answer: TrafficAnswer;
    try {
      const response = await fetch(`${options.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // keep the text
      }
      answer = { via, status: response.status, contentType: response.headers.get('content-type'), body: parsed, startedAt, endedAt: Date.now() };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      answer = { via, status: 0, contentType: null, body: null, startedAt, endedAt: Date.now(), error: cause?.code ?? cause?.message ?? String(error) };
    }
    answers.push(answer);
    return answer;
  };

  const worker = async (twoPhase: boolean): Promise<void> => {
    while (running) {
      const lead = sampleLead();
      let answer = twoPhase ? await send('ping', '/v1/ping', { vertical: lead.vertical, data: lead.data }) : await send('leads', '/v1/leads', lead);
      if (twoPhase && answer.status === 200 && answer.body.status === 'bid') {
        answer = await send('post', '/v1/post', { ping_id: answer.body.ping_id, contact: lead.contact, consent: lead.consent, source: lead.source });
      }
      if (answer.status === 0 && options.stopOnNetworkError) return;
      if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, options.pauseAfterRefusalMs ?? 20));
    }
  };

  const every = options.twoPhaseEvery ?? 0;
  const workers = Array.from({ length: options.workers }, (_, i) => worker(every > 0 && i % every === every - 1));
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** The answers that carry a lead outcome (section 3.1's shape): direct posts and posts. */
export function leadOutcomes(answers: TrafficAnswer[]): TrafficAnswer[] {
  return answers.filter((a) => a.status === 200 && (a.via === 'leads' || a.via === 'post'));
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
