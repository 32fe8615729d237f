// How RedisStore runs its Lua scripts. ioredis gives every command closures that reach the command
// itself: its promise's resolve and reject (set by Command's constructor), the reject wrapper of
// a defineCommand script, and the timer of `commandTimeout`. An object reachable from its own
// closures stayed alive through every young-generation collection until the next full one, and
// kept its keys, its RESP text and its reply with it: at 200 auctions/s, about 36 MB every 20 s
// (load/README.md, "What the young generation keeps"). A ScriptCommand is settled by methods
// instead, its timeout is one entry in a DeadlineTable, and it runs as EVALSHA, falling back to EVAL
// when Redis does not have the script (first use, or after a restart or SCRIPT FLUSH).
import { createHash } from 'node:crypto';
import { Command, type Redis } from 'ioredis';
import { DeadlineTable } from '../clock/deadline-table.ts';

export type ScriptArg = string | number;

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
 * on two things of ioredis 5's Command: its constructor calls `initPromise()`, and it leaves
 * `resolve`, `reject` and `setTimeout` to be called as methods of the command.
 */
interface BaseCommand {
  name: string;
  isResolved: boolean;
  promise: Promise<unknown>;
  stringifyArguments(): void;
  transformReply(reply: unknown): unknown;
}
const Base = Command as unknown as new (name: string, args: ScriptArg[], options: { keyPrefix: string; replyEncoding: 'utf8' }) => BaseCommand;

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

  constructor(name: 'evalsha' | 'eval', args: ScriptArg[], keyPrefix: string, deadlines: DeadlineTable<ScriptCommand>) {
    super(name, args, { keyPrefix, replyEncoding: 'utf8' });
    this.deadlines = deadlines;
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
    // What ioredis's does besides (EVAL and EVALSHA have no argument transformer).
    this.stringifyArguments();
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

/** Runs `script` with `keys` (prefixed as the client's own commands are) and `args`. */
export async function runScript(client: Redis, script: LuaScript, keys: ScriptArg[], args: ScriptArg[], keyPrefix: string, deadlines: DeadlineTable<ScriptCommand>): Promise<unknown> {
  const send = (name: 'evalsha' | 'eval', first: string) =>
    client.sendCommand(new ScriptCommand(name, [first, keys.length, ...keys, ...args], keyPrefix, deadlines) as unknown as Command) as Promise<unknown>;
  try {
    return await send('evalsha', script.sha);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return send('eval', script.lua);
  }
}
