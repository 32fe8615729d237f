// One small hierarchy for every refusal the exchange makes. The http layer maps these to
// RFC 9457 problem+json in one place (src/http/problem-response.ts); nothing else formats errors.

export interface FieldError {
  /** Dotted path of the offending input, e.g. "contact.email" or "data.age". */
  path: string;
  message: string;
}

export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly errors: FieldError[];
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    title: string,
    detail: string,
    errors: FieldError[] = [],
    headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(detail, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.status = status;
    this.title = title;
    this.errors = errors;
    this.headers = headers;
  }

  /** A stable URI-ish type per kind of problem. */
  get type(): string {
    return `https://leadex.dev/problems/${this.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  }
}

export class InvalidInput extends Problem {
  constructor(detail: string, errors: FieldError[] = []) {
    super(400, 'Invalid input', detail, errors);
  }
}

export class Unauthorized extends Problem {
  constructor(detail = 'Missing or wrong credentials') {
    super(401, 'Unauthorized', detail, [], { 'www-authenticate': 'Bearer' });
  }
}

export class Forbidden extends Problem {
  constructor(detail: string) {
    super(403, 'Forbidden', detail);
  }
}

export class NotFound extends Problem {
  constructor(detail: string) {
    super(404, 'Not found', detail);
  }
}

export class Conflict extends Problem {
  constructor(detail: string, errors: FieldError[] = []) {
    super(409, 'Conflict', detail, errors);
  }
}

export class Gone extends Problem {
  constructor(detail: string) {
    super(410, 'Gone', detail);
  }
}

export class PayloadTooLarge extends Problem {
  constructor(detail: string) {
    super(413, 'Payload too large', detail);
  }
}

export class UnsupportedMediaType extends Problem {
  constructor(detail: string) {
    super(415, 'Unsupported media type', detail);
  }
}

export class Unprocessable extends Problem {
  constructor(detail: string, errors: FieldError[] = []) {
    super(422, 'Unprocessable', detail, errors);
  }
}

export class TooManyRequests extends Problem {
  constructor(detail: string, retryAfterSeconds: number) {
    super(429, 'Too many requests', detail, [], { 'retry-after': String(retryAfterSeconds) });
  }
}

export class ServiceUnavailable extends Problem {
  constructor(detail: string, retryAfterSeconds = 1, cause?: unknown) {
    super(503, 'Service unavailable', detail, [], { 'retry-after': String(retryAfterSeconds) }, cause);
  }
}
