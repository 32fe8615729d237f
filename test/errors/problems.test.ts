import { describe, expect, it } from 'vitest';
import { Conflict, InvalidInput, Problem, TooManyRequests } from '../../src/errors/problems.ts';

describe('problems', () => {
  it('carry status, title and the fields they name', () => {
    const problem = new InvalidInput('1 field is invalid', [{ path: 'contact.email', message: 'not an e-mail address' }]);
    expect(problem).toBeInstanceOf(Problem);
    expect(problem.status).toBe(400);
    expect(problem.errors[0]?.path).toBe('contact.email');
    expect(problem.type).toBe('https://leadex.dev/problems/invalid-input');
  });

  it('a 429 tells the caller when to come back', () => {
    expect(new TooManyRequests('slow down', 3).headers['retry-after']).toBe('3');
    expect(new Conflict('x').status).toBe(409);
  });
});
