// A held connection sends what a turn wrote as one batch when the turn ends, and is its plain
// self again afterwards. The stream here is a real Writable that records each batch it is handed
// (a socket hands each batch to the kernel as one write).
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TurnWrites } from '../../src/store/turn-writes.ts';

class RecordingStream extends Writable {
  readonly batches: string[][] = [];

  constructor() {
    super({ decodeStrings: false });
  }

  override _write(chunk: string, _encoding: BufferEncoding, done: () => void): void {
    this.batches.push([chunk]);
    done();
  }

  override _writev(chunks: Array<{ chunk: string }>, done: () => void): void {
    this.batches.push(chunks.map((c) => c.chunk));
    done();
  }
}

describe('TurnWrites', () => {
  it('sends everything written in one turn as one batch once the turn ends', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    for (const command of ['a', 'b', 'c']) {
      turn.hold(stream);
      stream.write(command);
    }
    expect(stream.batches).toEqual([]);

    await nextTurn();
    expect(stream.batches).toEqual([['a', 'b', 'c']]);
  });

  it('leaves the stream uncorked after the turn, however often it was held in it', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    turn.hold(stream);
    turn.hold(stream);
    stream.write('held');
    await nextTurn();

    stream.write('at once');
    expect(stream.batches).toEqual([['held'], ['at once']]);
  });

  it('holds again in a later turn', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    turn.hold(stream);
    stream.write('1');
    await nextTurn();
    turn.hold(stream);
    stream.write('2');
    stream.write('3');
    expect(stream.batches).toEqual([['1']]);

    await nextTurn();
    expect(stream.batches).toEqual([['1'], ['2', '3']]);
  });

  it('holds a new connection that replaced the held one within the turn, and releases both', async () => {
    const [first, second] = [new RecordingStream(), new RecordingStream()];
    const turn = new TurnWrites();
    turn.hold(first);
    first.write('old');
    turn.hold(second);
    second.write('new');
    expect([first.batches, second.batches]).toEqual([[], []]);

    await nextTurn();
    expect([first.batches, second.batches]).toEqual([[['old']], [['new']]]);
  });

  it('leaves a stream that can no longer be written to alone', () => {
    const stream = new RecordingStream();
    stream.destroy();
    new TurnWrites().hold(stream);
    expect(stream.writableCorked).toBe(0);
  });

  it('keeps a brief hold past the turn, to leave ahead of what the next held turn writes, in one batch', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    turn.holdBriefly(stream, 1_000);
    stream.write('end');
    await nextTurn();
    expect(stream.batches).toEqual([]);

    turn.hold(stream);
    stream.write('next');
    await nextTurn();
    expect(stream.batches).toEqual([['end', 'next']]);
    stream.write('at once');
    expect(stream.batches).toEqual([['end', 'next'], ['at once']]);
  });

  it('lets a brief hold go by itself once its time is up', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    turn.holdBriefly(stream, 20);
    stream.write('end');
    turn.holdBriefly(stream, 20);
    stream.write('another end');
    await sleep(5);
    expect(stream.batches).toEqual([]);

    await sleep(40);
    expect(stream.batches).toEqual([['end', 'another end']]);
    expect(stream.writableCorked).toBe(0);
  });

  it('sends a brief write made in a held turn with that turn', async () => {
    const stream = new RecordingStream();
    const turn = new TurnWrites();
    turn.hold(stream);
    stream.write('call');
    turn.holdBriefly(stream, 1_000);
    stream.write('end');
    await nextTurn();
    expect(stream.batches).toEqual([['call', 'end']]);
    expect(stream.writableCorked).toBe(0);
  });
});
