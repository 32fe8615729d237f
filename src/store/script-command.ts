// How RedisStore runs its Lua scripts. ioredis gives every command closures that reach the command
// itself: its promise's resolve and reject (set by Command's constructor), the reject wrapper of
// a defineCommand script, and the timer of `commandTimeout`. An object reachable from its own
// closures stayed alive through every young-generation collection until the next full one, and
// kept its keys, its RESP text and its reply with it: at 200 auctions/s, about 36 MB every 20 s
// (load/FINDINGS.md, "What the young generation keeps"). A ScriptCommand is settled by methods
// instead, its timeout is one entry in a DeadlineTable, and it runs as EVALSHA, falling back to EVAL
// when Redis does not have the script (first use, or after a restart or SCRIPT FLUSH).
//
// It also writes its own wire text. The caller passes its keys in groups that share a prefix (the
// store's, with the kind of key), and the command frames names and arguments in one pass, keeping
// only that text until it is written: no full name built for each key, and no argument array for
// ioredis to copy, prefix and keep until the answer. So an auction's scripts take their dozens of
// keys as KEYS, which Redis parses natively, rather than as packed text that each script had to
// split and prefix in Lua, half of what opening an auction cost Redis (load/FINDINGS.md, "Costs
// found in place").
import { createHash } from 'node:crypto';
import { Command, type Redis } from 'ioredis';
import { DeadlineTable } from '../clock/deadline-table.ts';

export type ScriptArg = string | number;

/** Keys that share a prefix: each key's full name is `prefix + key`. */
export type KeyGroup = readonly [prefix: string, keys: readonly string[]];

export class LuaScript {
  readonly lua: string;
  readonly sha: string;

  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

/**
 * ioredis's Command as ScriptCommand extends it. Besides the typed surface, ScriptCommand relies
 * on three things of ioredis 5's Command: its constructor calls `initPromise()`; it leaves
 * `resolve`, `reject` and `setTimeout` to be called as methods of the command; and the client
 * writes to the socket what the command's `toWritable()` returns.
 */
interface BaseCommand {
  name: string;
  isResolved: boolean;
  promise: Promise<unknown>;
  transformReply(reply: unknown): unknown;
}
const Base = Command as unknown as new (name: string, args: ScriptArg[], options: { replyEncoding: 'utf8' }) => BaseCommand;

/** The store's command timeouts (ioredis's `commandTimeout` would be a timer per command). */
export function commandDeadlines(timeoutMs: number): DeadlineTable<ScriptCommand> {
  // The message ioredis gives its own command timeout.
  return new DeadlineTable<ScriptCommand>(timeoutMs, (command) => command.reject(new Error('Command timed out')));
}

export class ScriptCommand extends Base {
  // Declared, not initialised: the base constructor sets them (through initPromise) before a
  // subclass initialiser would run, and an initialiser would overwrite them.
  declare private settle: (value: unknown) => void;
  declare private fail: (error: Error) => void;
  declare private deadlines: DeadlineTable<ScriptCommand>;
  declare private wire: string;

  /** `first` is the script's SHA1 for EVALSHA, its text for EVAL. */
  constructor(name: 'evalsha' | 'eval', first: string, keys: readonly KeyGroup[], args: readonly ScriptArg[], deadlines: DeadlineTable<ScriptCommand>) {
    // No arguments for ioredis: the command frames its own (see toWritable).
    super(name, [], { replyEncoding: 'utf8' });
    this.deadlines = deadlines;
    let keyCount = 0;
    for (const [, group] of keys) keyCount += group.length;
    // Pieces joined once (a string built up by += is copied again at every step it flattens),
    // into an array made at its final size.
    const pieces = new Array<string>(3 + 4 * keyCount + 3 * args.length);
    pieces[0] = `*${3 + keyCount + args.length}\r\n$${name.length}\r\n${name}\r\n${lengthLine(Buffer.byteLength(first))}`;
    pieces[1] = first;
    pieces[2] = `\r\n${lengthLine(String(keyCount).length)}${keyCount}\r\n`;
    let at = 3;
    for (const [prefix, group] of keys) {
      const prefixBytes = Buffer.byteLength(prefix);
      for (const key of group) {
        pieces[at++] = lengthLine(prefixBytes + Buffer.byteLength(key));
        pieces[at++] = prefix;
        pieces[at++] = key;
        pieces[at++] = '\r\n';
      }
    }
    for (const arg of args) {
      const text = typeof arg === 'string' ? arg : String(arg);
      pieces[at++] = lengthLine(Buffer.byteLength(text));
      pieces[at++] = text;
      pieces[at++] = '\r\n';
    }
    this.wire = pieces.join('');
  }

  /**
   * What ioredis writes to the socket: the command in Redis's wire format, handed over once so it
   * is not kept until the answer. Once is all it is asked for: the store's client has no offline
   * queue and resends nothing after a reconnect (RedisStore's constructor), the two ways ioredis
   * writes a command again.
   */
  toWritable(): string {
    const wire = this.wire;
    this.wire = '';
    return wire;
  }

  /** Called by the base constructor instead of ioredis's own, which makes the closures. */
  initPromise(): void {
    let settle!: (value: unknown) => void;
    let fail!: (error: Error) => void;
    this.promise = new Promise<unknown>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    this.settle = settle;
    this.fail = fail;
  }

  /** ioredis calls this (only when `commandTimeout` is set) as it writes the command. */
  setTimeout(_ms: number): void {
    this.deadlines.start(this);
  }

  resolve(reply: unknown): void {
    this.deadlines.end(this);
    if (this.isResolved) return;
    try {
      const value = this.transformReply(reply);
      this.isResolved = true;
      this.settle(value);
    } catch (error) {
      this.reject(error as Error);
    }
  }

  reject(error: Error): void {
    this.deadlines.end(this);
    if (this.isResolved) return;
    this.isResolved = true;
    this.fail(error);
  }
}

// `$<n>\r\n`, the line before a bulk string of n bytes; made once for the lengths keys have.
const LENGTH_LINES = Array.from({ length: 1024 }, (_, n) => `$${n}\r\n`);

function lengthLine(bytes: number): string {
  return bytes < LENGTH_LINES.length ? LENGTH_LINES[bytes]! : `$${bytes}\r\n`;
}

/** Runs `script` with `keys` (full names, by group: the client's key prefix is not added) and `args`. */
export async function runScript(client: Redis, script: LuaScript, keys: readonly KeyGroup[], args: readonly ScriptArg[], deadlines: DeadlineTable<ScriptCommand>): Promise<unknown> {
  const send = (name: 'evalsha' | 'eval', first: string) =>
    client.sendCommand(new ScriptCommand(name, first, keys, args, deadlines) as unknown as Command) as Promise<unknown>;
  try {
    return await send('evalsha', script.sha);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return send('eval', script.lua);
  }
}
