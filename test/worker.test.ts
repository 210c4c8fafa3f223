import { DrizzleQueryError } from 'drizzle-orm';
import pino from 'pino';
import { registry } from '../src/metrics';
import { backoffDelay, startWorker, type Worker, type WorkerLoopOptions } from '../src/worker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `ready()` holds (or fails after `ms`). */
async function until(ready: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => undefined as void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A logger whose lines are kept, parsed. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

async function metricValue(metric: string, worker: string): Promise<number> {
  const found = await registry.getSingleMetric(metric)?.get();
  return found?.values.find((v) => v.labels.worker === worker && !('le' in v.labels))?.value ?? 0;
}

describe('worker loop', () => {
  const started: Worker[] = [];
  const start = (options: Omit<WorkerLoopOptions, 'logger'> & { logger?: WorkerLoopOptions['logger'] }) => {
    const worker = startWorker({ logger: memoryLogger().logger, ...options });
    started.push(worker);
    return worker;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((w) => w.stop()));
  });

  it('ticks every interval when idle, and at once while a tick reports more work', async () => {
    const at: number[] = [];
    let work = 3;
    start({
      name: 'test-idle',
      intervalMs: 400,
      tick: async () => {
        at.push(Date.now());
        return work-- > 0;
      },
    });
    await until(() => at.length >= 6);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // three busy ticks follow one another (well within the interval, even on a loaded machine); then the idle ones wait it
    expect(gaps.slice(0, 3).every((g) => g < 300)).toBe(true);
    expect(gaps.slice(3).every((g) => g >= 395)).toBe(true);
  });

  it('stop waits for the tick in flight, runs no other and can be called again', async () => {
    const gate = deferred();
    let ticks = 0;
    let finished = false;
    const worker = start({
      name: 'test-stop',
      intervalMs: 1,
      tick: async () => {
        ticks += 1;
        await gate.promise;
        finished = true;
        return true;
      },
    });
    await until(() => ticks === 1);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await sleep(30);
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
    await worker.stop();
    worker.wake();
    await sleep(30);
    expect(ticks).toBe(1);
  });

  it('backs off after failures, longer each time, and back to the interval after a success', async () => {
    const at: number[] = [];
    const outcomes = [false, false, false, true, false, true, true];
    start({
      name: 'test-backoff',
      intervalMs: 20,
      maxBackoffMs: 10_000,
      random: () => 1,
      tick: async () => {
        at.push(Date.now());
        const ok = outcomes.shift();
        if (ok === false) throw new Error('down');
      },
    });
    await until(() => at.length >= 7);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // failures 1, 2, 3 wait 20, 40, 80 ms; the success resets: the next failure waits 20 ms again
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(gaps[3]).toBeLessThan(79);
    expect(gaps[4]).toBeLessThan(79);
    expect(gaps[5]).toBeLessThan(79);
  });

  it('keeps running after a tick throws, logs the failure without the query parameters, and counts it', async () => {
    const { logger, lines } = memoryLogger();
    const ticksBefore = await metricValue('socle_worker_ticks_total', 'test-throw');
    let ticks = 0;
    start({
      name: 'test-throw',
      logger,
      intervalMs: 5,
      tick: async () => {
        ticks += 1;
        if (ticks === 1) {
          throw new DrizzleQueryError('insert into users values ($1)', ['learner-sub-42'], Object.assign(new Error('duplicate key'), { code: '23505' }));
        }
        if (ticks === 2) throw new TypeError('boom');
      },
    });
    await until(() => ticks >= 4);
    const failures = lines.filter((l) => l.msg === 'worker failed; retrying later');
    expect(failures.slice(0, 2)).toEqual([
      expect.objectContaining({ worker: 'test-throw', failures: 1, error: expect.objectContaining({ code: '23505', message: 'duplicate key' }) }),
      expect.objectContaining({ worker: 'test-throw', failures: 2, error: expect.objectContaining({ type: 'TypeError', message: 'boom' }) }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('learner-sub-42');
    expect(await metricValue('socle_worker_failures_total', 'test-throw')).toBe(2);
    expect((await metricValue('socle_worker_ticks_total', 'test-throw')) - ticksBefore).toBeGreaterThanOrEqual(4);
    const count = /^socle_worker_tick_duration_seconds_count\{worker="test-throw"\} (\d+)$/m.exec(await registry.metrics());
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(4);
  });

  it('warns once when the database is lost, stays quiet while it lasts and says when it resumes', async () => {
    const { logger, lines } = memoryLogger();
    let ticks = 0;
    start({
      name: 'test-outage',
      logger,
      intervalMs: 5,
      tick: async () => {
        ticks += 1;
        if (ticks <= 3) {
          throw new DrizzleQueryError('select * from users where sub = $1', ['learner-sub-42'], Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
        }
      },
    });
    await until(() => ticks >= 5);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'worker paused: the database is unavailable; retrying'],
      [30, 'worker resumed: the database answers again'],
    ]);
    expect(lines[0]).toMatchObject({ worker: 'test-outage', failures: 1, reason: expect.stringContaining('57P01') });
    expect(JSON.stringify(lines)).not.toContain('learner-sub-42');
  });

  it('wake runs a tick now, and once more right after the one in flight', async () => {
    let ticks = 0;
    let gate = deferred();
    const worker = start({
      name: 'test-wake',
      intervalMs: 60_000,
      firstDelayMs: 60_000,
      tick: async () => {
        ticks += 1;
        await gate.promise;
      },
    });
    await sleep(20);
    expect(ticks).toBe(0);
    const woken = Date.now();
    worker.wake();
    await until(() => ticks === 1, 1_000);
    expect(Date.now() - woken).toBeLessThan(500);
    worker.wake(); // during the tick: one more tick after it, not two at once
    worker.wake();
    await sleep(20);
    expect(ticks).toBe(1);
    const first = gate;
    gate = deferred();
    first.resolve();
    await until(() => ticks === 2, 1_000);
    gate.resolve();
    await sleep(20);
    expect(ticks).toBe(2);
  });

  it('with a wake delay, the wakes of a burst make one tick after the delay', async () => {
    let ticks = 0;
    const worker = start({
      name: 'test-wake-delay',
      intervalMs: 60_000,
      firstDelayMs: 60_000,
      wakeDelayMs: 150,
      tick: async () => {
        ticks += 1;
      },
    });
    const woken = Date.now();
    for (let i = 0; i < 10; i++) {
      worker.wake();
      await sleep(5);
    }
    expect(ticks).toBe(0);
    await until(() => ticks === 1, 2_000);
    expect(Date.now() - woken).toBeGreaterThanOrEqual(140);
    await sleep(300);
    expect(ticks).toBe(1);
  });

  it('runs an exclusive unit between ticks, never during one', async () => {
    let inTick = false;
    let overlapped = false;
    const worker = start({
      name: 'test-exclusive',
      intervalMs: 1,
      tick: async () => {
        inTick = true;
        await sleep(5);
        inTick = false;
        return true;
      },
    });
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        worker.exclusive(async () => {
          if (inTick) overlapped = true;
          await sleep(5);
          if (inTick) overlapped = true;
          return n;
        }),
      ),
    );
    expect(results).toEqual([1, 2, 3]);
    expect(overlapped).toBe(false);
    await expect(worker.exclusive(() => Promise.reject(new Error('unit failed')))).rejects.toThrow('unit failed');
    expect(await worker.exclusive(async () => 'still running')).toBe('still running');
  });
});

describe('backoff', () => {
  it('doubles per attempt up to the maximum, with jitter between 50 and 100 %', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(a, 1000, 60_000, () => 1))).toEqual([1000, 2000, 4000, 8000, 60_000]);
    expect(backoffDelay(3, 1000, 60_000, () => 0)).toBe(2000);
  });
});
