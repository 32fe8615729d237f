// An auction's reads go to the store grouped (keys, then each hash's fields) and come back in the
// order the auction asked for them, whatever it interleaved.
import { describe, expect, it } from 'vitest';
import { ReadPlan } from '../../src/exchange/read-plan.ts';

describe('a read plan', () => {
  it('sends keys apart from the fields of each hash, and hands back every value at the index its read was given', () => {
    const plan = new ReadPlan();
    const email = plan.addHash('history:e');
    const phone = plan.addHash('history:p');
    const reads = [plan.field(email, 'sent:a'), plan.field(phone, 'sent:a'), plan.add('cap:1'), plan.field(email, 'bought:b1'), plan.add('budget:b1'), plan.field(phone, 'bought:b1')];

    expect(plan.keys).toEqual(['cap:1', 'budget:b1']);
    expect(plan.hashes).toEqual([
      { key: 'history:e', fields: ['sent:a', 'bought:b1'] },
      { key: 'history:p', fields: ['sent:a', 'bought:b1'] },
    ]);
    // As the store answers: the keys' values, then each hash's fields in order.
    const values = plan.arrange(['3', null, 'e-sent', 'e-bought', null, 'p-bought']);
    expect(reads.map((i) => values[i])).toEqual(['e-sent', null, '3', 'e-bought', null, 'p-bought']);
  });

  it('reads a key as often as it is added, and a plan of keys alone comes back as it is', () => {
    const plan = new ReadPlan();
    expect([plan.add('budget:b1'), plan.add('budget:b1')]).toEqual([0, 1]);
    expect(plan.arrange(['7', '7'])).toEqual(['7', '7']);
  });

  it('reads a missing answer as null (a store drops trailing nils)', () => {
    const plan = new ReadPlan();
    const history = plan.addHash('history:e');
    const sent = plan.field(history, 'sent:a');
    const cap = plan.add('cap:1');
    const values = plan.arrange(['1']);
    expect([values[cap], values[sent]]).toEqual(['1', null]);
  });
});
